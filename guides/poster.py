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


def _font(size: int):
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


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int = 2) -> list[str]:
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
    title_font, subtitle_font = _font(40), _font(26)
    for number, line in enumerate(_wrap(draw, title, title_font, text_width)):
        draw.text((MARGIN, text_top + number * 54), line, fill=INK, font=title_font)
    for number, line in enumerate(_wrap(draw, subtitle, subtitle_font, text_width)):
        draw.text((MARGIN, text_top + 130 + number * 36), line, fill=INK, font=subtitle_font)
    code = Image.open(io.BytesIO(code_png)).convert("RGB").resize((CODE_SIZE, CODE_SIZE))
    poster.paste(code, (WIDTH - CODE_SIZE - MARGIN, HEIGHT - CODE_SIZE - MARGIN))
    buffer = io.BytesIO()
    poster.save(buffer, format="PNG")
    return buffer.getvalue()
