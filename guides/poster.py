"""Share posters: the room cover or product image, the title and the mini-program code, as one PNG.

The image is fetched with a short timeout; when there is none, or it cannot be fetched or read,
the poster has a plain background, so a poster is always made.
"""

import io
import logging
from pathlib import Path

import httpx
from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

logger = logging.getLogger("siyu.guides")

WIDTH, HEIGHT = 750, 1334
IMAGE_HEIGHT = 900
CODE_SIZE = 280
MARGIN = 40
BACKGROUND = (246, 241, 235)
INK = (40, 36, 32)
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Fonts that draw Chinese titles, where the system has one; otherwise Pillow's own font.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def fetch_image(url: str) -> Image.Image | None:
    """The picture at ``url``, or None when it cannot be had quickly (the poster does without)."""
    if not url:
        return None
    local = _local_media(url)
    if local is not None:  # our own media (the demo's pictures): read, not fetched from ourselves
        try:
            with Image.open(local) as image:
                return image.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            logger.info("Poster image %s not used: %s", url, exc)
            return None
    try:
        with httpx.stream("GET", url, timeout=settings.SHARE_POSTER_IMAGE_TIMEOUT, follow_redirects=True) as response:
            response.raise_for_status()
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_IMAGE_BYTES:
                    return None
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")
    except (httpx.HTTPError, UnidentifiedImageError, OSError, ValueError) as exc:
        logger.info("Poster image %s not used: %s", url, exc)
        return None


def media_url(relative: str) -> str:
    """The absolute URL of a file under MEDIA_ROOT."""
    return f"{settings.SITE_URL}/{settings.MEDIA_URL.strip('/')}/{relative}"


def _local_media(url: str) -> Path | None:
    """The file in MEDIA_ROOT that ``url`` names, when it is one of our own media URLs."""
    prefix = media_url("")
    if not url.startswith(prefix):
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / url.removeprefix(prefix)).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def font(size: int):
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale and centre-crop ``image`` to fill width × height."""
    scale = max(width / image.width, height / image.height)
    resized = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int = 2) -> list[str]:
    lines, current = [], ""
    for char in text:
        if draw.textlength(current + char, font=font) > width:
            lines.append(current)
            current = char
            if len(lines) == max_lines:
                lines[-1] = lines[-1][:-1] + "…"
                return lines
        else:
            current += char
    return [*lines, current] if current else lines


def compose_poster(*, title: str, subtitle: str, code_png: bytes, image: Image.Image | None) -> bytes:
    poster = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    if image is not None:
        poster.paste(_cover(image, WIDTH, IMAGE_HEIGHT), (0, 0))
    draw = ImageDraw.Draw(poster)
    text_top = IMAGE_HEIGHT + MARGIN
    text_width = WIDTH - CODE_SIZE - 3 * MARGIN
    title_font, subtitle_font = font(40), font(26)
    for number, line in enumerate(wrap(draw, title, title_font, text_width)):
        draw.text((MARGIN, text_top + number * 54), line, fill=INK, font=title_font)
    for number, line in enumerate(wrap(draw, subtitle, subtitle_font, text_width)):
        draw.text((MARGIN, text_top + 130 + number * 36), line, fill=INK, font=subtitle_font)
    code = Image.open(io.BytesIO(code_png)).convert("RGB").resize((CODE_SIZE, CODE_SIZE))
    poster.paste(code, (WIDTH - CODE_SIZE - MARGIN, HEIGHT - CODE_SIZE - MARGIN))
    buffer = io.BytesIO()
    poster.save(buffer, format="PNG")
    return buffer.getvalue()


# Soft backgrounds for pictures drawn without a photo, one per name (stable across runs).
PALETTE = ((233, 216, 198), (214, 226, 220), (222, 214, 232), (240, 226, 204), (212, 222, 236))


def label_image(text: str, width: int, height: int) -> bytes:
    """A PNG picture of ``text`` (a product's or a room's name) on a plain background: the demo's
    images, drawn here so that the demo needs no internet."""
    image = Image.new("RGB", (width, height), PALETTE[sum(text.encode()) % len(PALETTE)])
    draw = ImageDraw.Draw(image)
    size = max(24, width // 12)
    lines = wrap(draw, text, font(size), width - 2 * MARGIN, max_lines=3)
    top = (height - len(lines) * size * 1.4) / 2
    for number, line in enumerate(lines):
        left = (width - draw.textlength(line, font=font(size))) / 2
        draw.text((left, top + number * size * 1.4), line, fill=INK, font=font(size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
