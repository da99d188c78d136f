"""The error messages' other languages: what the API and the room's socket say, per error code.

A service raises ``Conflict("out_of_stock", f"{name} is out of stock.")``: the code is the
contract, the English message is the service's own words. A client that asks for another
language (``Accept-Language: zh-Hans`` on a request, ``?lang=zh-Hans`` or the header on a
websocket) gets the message of the code from the catalogue below, translated in
locale/zh_Hans (``makemessages`` finds the strings here), with the error's ``fields`` filled
in. English stays the service's message (which may name the product or the status); a code not
listed here keeps the service's message, translated where the catalogue happens to hold it
(Django's and DRF's own messages are).

``tests/tenants/test_error_messages.py`` fails on a code of the mini-program's API (every code
its OpenAPI operations list) or of the room's socket that has no Chinese message here.
"""

import functools

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, trans_real
from django.utils.translation import gettext_lazy as _

# Fields in fen that a message shows in yuan: ``%(min_spend_yuan)s``.
MONEY_FIELDS = ("min_spend", "eligible_amount")
# Codes whose message depends on one field's value: the key is "<code>:<value>" (else "<code>").
VARIANT_FIELDS = {"lottery_not_eligible": "rule"}

MESSAGES = {
    # --- any request ------------------------------------------------------------------------
    "not_found": _("Not found."),
    "not_authenticated": _("Log in first."),
    "invalid_token": _("Your login has expired; log in again."),
    "permission_denied": _("You are not allowed to do this."),
    "brand_suspended": _("This brand's service is suspended."),
    "rate_limited": _("Too many requests; try again in a moment."),
    "malformed_json": _("The request is not valid JSON."),
    "invalid_text": _("The text contains characters that cannot be saved."),
    "unsupported_media_type": _("Send the request body as JSON."),
    "realtime_unavailable": _("Live updates are unavailable for a moment; try again shortly."),
    "server_error": _("Something went wrong on our side; try again later."),
    "wechat_error": _("WeChat refused the request; try again later."),
    "wechat_unavailable": _("WeChat cannot be reached; try again later."),
    "unknown_appid": _("This mini-program is not connected to a brand."),
    "invalid_code": _("This code is not valid."),
    # --- the live room --------------------------------------------------------------------------
    "room_not_found": _("This live room does not exist."),
    "room_not_upcoming": _("Reminders are only for shows that have not started."),
    "room_not_started": _("The show has not started yet: buy once it is live."),
    "room_paused": _("The show is paused: buy again once it resumes."),
    "room_ended": _("The show has ended and its products are no longer on sale."),
    "live_offer_ended": _("The live-only price has ended with the show."),
    "room_not_selling": _("This show is not selling right now."),
    "invalid_source": _("This entry link is not valid."),
    "festival_not_found": _("This festival does not exist."),
    "share_not_found": _("This share link does not exist."),
    "click_rate_limited": _("Too many taps; try again in a moment."),
    "invalid_transition": _("This cannot be done in the current state."),
    # the room's socket
    "login_required": _("Log in to comment."),
    "muted": _("You have been muted in this room."),
    "comments_disabled": _("Comments are off in this room."),
    "comment_empty": _("Say something first."),
    "comment_too_long": _("This comment is too long."),
    "comment_blocked": _("This comment contains words this room does not allow."),
    "comment_rate_limited": _("You are commenting too fast; wait a moment."),
    "likes_disabled": _("Likes are off in this room."),
    "invalid_like_count": _("Too many likes in one go."),
    "flooding": _("Too many messages: the connection was closed."),
    "frame_too_large": _("The message is too long."),
    "invalid_event": _("The message could not be understood."),
    "unknown_event": _("The message could not be understood."),
    "comment_hidden": _("This comment has been hidden."),
    # --- orders and payment ------------------------------------------------------------------------
    "empty_cart": _("Choose a product first."),
    "invalid_address": _("Fill in the delivery address."),
    "invalid_quantity": _("Choose a valid quantity."),
    "sku_not_found": _("This option of the product does not exist."),
    "store_not_found": _("This store is not open for pickup."),
    "out_of_stock": _("Sold out: not enough stock left."),
    "product_not_in_room": _("This product is not on sale in this live room."),
    "product_unavailable": _("This product is not for sale."),
    "idempotency_key_reused": _("This order was already placed differently; try again."),
    "order_not_found": _("This order does not exist."),
    "order_expired": _("The payment time of this order has passed; place a new order."),
    "no_payment_started": _("Start the payment first."),
    "payment_rejected": _("WeChat Pay refused the payment; try again later."),
    "payment_unavailable": _("WeChat Pay cannot be reached; try again later."),
    "payment_unverified": _("WeChat Pay's answer could not be verified; try again later."),
    "not_paid": _("This order has not been paid."),
    "nothing_to_refund": _("Everything in this order has been refunded."),
    "refund_in_progress": _("A refund of this order is being processed."),
    "line_not_found": _("This item is not in the order."),
    # flash sales
    "flash_sale_not_found": _("This flash sale does not exist."),
    "flash_sale_not_started": _("The flash sale has not started yet."),
    "flash_sale_ended": _("The flash sale has ended."),
    "flash_sale_sold_out": _("The flash sale is sold out."),
    "flash_sale_withdrawn": _("The flash sale was withdrawn."),
    "flash_sale_limit_reached": _("At most %(limit)s per customer."),
    "flash_sale_members_only": _("This offer is for members only."),
    "flash_sale_new_customers_only": _("This offer is for new customers only."),
    "flash_sale_room_only": _("This offer is only available in its live room."),
    # --- coupons --------------------------------------------------------------------------------------
    "coupon_not_found": _("This coupon does not exist."),
    "coupon_expired": _("This coupon has expired."),
    "coupon_not_yet_valid": _("This coupon cannot be used yet."),
    "coupon_used": _("This coupon has been used."),
    "coupon_in_use": _("This coupon is held by another unpaid order."),
    "coupon_in_store_only": _("This coupon can only be used in store."),
    "coupon_online_only": _("This coupon can only be used online."),
    "coupon_not_applicable": _("This coupon does not apply to these products."),
    "coupon_min_spend_not_met": _("This coupon needs a spend of ¥%(min_spend_yuan)s."),
    "coupon_not_allowed": _("Coupons cannot be used with a group-buy or bargain price."),
    "coupon_sold_out": _("All of these coupons have been claimed."),
    "coupon_limit_reached": _("You can claim at most %(limit)s of this coupon."),
    "coupon_members_only": _("This coupon is for members only."),
    "coupon_new_customers_only": _("This coupon is for new customers only."),
    "template_not_found": _("This coupon does not exist."),
    "template_not_claimable": _("This coupon cannot be claimed."),
    "template_expired": _("This coupon's validity has ended."),
    "template_retired": _("This coupon is no longer given out."),
    "drop_not_found": _("This coupon drop does not exist."),
    "drop_closed": _("This coupon drop has closed."),
    "drop_sold_out": _("All the coupons of this drop have been claimed."),
    "drop_already_claimed": _("You already claimed a coupon from this drop."),
    "invite_not_found": _("This invite code does not exist."),
    "invite_own_code": _("You cannot accept your own invite."),
    "invite_already_accepted": _("You already accepted an invite."),
    "invite_not_new_customer": _("Invites are for customers who have not bought yet."),
    # --- lotteries and gift boxes -----------------------------------------------------------------------
    "lottery_not_found": _("This lottery does not exist."),
    "lottery_not_open": _("This lottery has been drawn or has ended."),
    "lottery_already_joined": _("You have already joined this lottery."),
    "lottery_not_eligible": _("You cannot join this lottery."),
    "lottery_not_eligible:present": _("Join from the live room while you watch it."),
    "lottery_not_eligible:keyword": _("Comment the keyword in the room to join."),
    "lottery_not_eligible:liked": _("Like the room to join."),
    "lottery_not_eligible:subscribed": _("This lottery is for viewers who set the start reminder."),
    "lottery_not_eligible:new_customers": _("This lottery is for new customers only."),
    "lottery_rate_limited": _("Too many tries; try again in a moment."),
    "prize_not_found": _("You did not win this lottery."),
    "prize_already_claimed": _("You already gave an address for this prize."),
    "prize_lapsed": _("The time to claim this prize has passed."),
    "gift_box_not_found": _("This gift box does not exist."),
    "gift_box_not_yet": _("Keep watching: the box opens after the required watch time."),
    "gift_box_stopped": _("This gift box has closed."),
    "gift_box_rate_limited": _("Too many tries; try again in a moment."),
    # --- group buys and bargains -------------------------------------------------------------------------
    "group_buy_not_found": _("This group buy does not exist."),
    "group_buy_not_started": _("This group buy has not started yet."),
    "group_buy_ended": _("This group buy has ended."),
    "group_buy_stopped": _("This group buy was stopped."),
    "group_buy_limit_reached": _("You can start or join at most %(limit)s groups of this offer."),
    "group_not_found": _("This group does not exist."),
    "group_not_open": _("This group is not open yet: its starter has not paid."),
    "group_full": _("This group is full."),
    "group_expired": _("This group has closed."),
    "group_already_joined": _("You are already in this group."),
    "group_new_customers_only": _("The places in this group are for new customers."),
    "group_not_complete": _("This group is not complete yet."),
    "group_join_rate_limited": _("Too many tries; try again in a moment."),
    "sharer_not_found": _("The person who shared this is not in the group."),
    "bargain_offer_not_found": _("This bargain does not exist."),
    "bargain_offer_closed": _("This bargain is not running."),
    "bargain_offer_stopped": _("This bargain was stopped."),
    "bargain_not_found": _("This bargain does not exist."),
    "bargain_closed": _("This bargain is over."),
    "bargain_at_floor": _("This bargain has reached its lowest price."),
    "bargain_already_started": _("You already have a bargain for this offer."),
    "bargain_already_helped": _("You already helped with this bargain."),
    "bargain_own": _("Share it with friends: you cannot cut your own bargain."),
    "bargain_daily_limit": _("You can help with %(limit)s bargains a day."),
    "bargain_help_rate_limited": _("Too many tries; try again in a moment."),
}


def _is_english(language: str) -> bool:
    return language.split("-")[0].lower() == "en"


@functools.lru_cache(maxsize=256)
def negotiated_language(header: str | None) -> str:
    """The language a client asks for (an ``Accept-Language`` value, or a ``lang`` parameter),
    among ``LANGUAGES``; ``API_LANGUAGE_CODE`` when it names none of them."""
    for code, _quality in trans_real.parse_accept_lang_header(header or ""):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.API_LANGUAGE_CODE


def _values(fields: dict) -> dict:
    values = {key: value for key, value in fields.items() if isinstance(value, str | int)}
    for key in MONEY_FIELDS:
        if isinstance(fields.get(key), int):
            values[f"{key}_yuan"] = f"{fields[key] / 100:.2f}"
    return values


def localized(code: str, message: str, fields: dict | None = None, language: str | None = None) -> str:
    """The message of an error in ``language``: None for the active one, "" for ``API_LANGUAGE_CODE``."""
    if language is None:
        language = translation.get_language()
    language = language or settings.API_LANGUAGE_CODE
    if _is_english(language):
        return message
    fields = fields or {}
    with translation.override(language):
        variant = VARIANT_FIELDS.get(code)
        text = MESSAGES.get(f"{code}:{fields.get(variant)}") if variant else None
        text = text or MESSAGES.get(code)
        if text is None:
            return gettext(message) if message else message
        text = str(text)
        if "%(" not in text:
            return text
        try:
            return text % _values(fields)
        except (KeyError, ValueError, TypeError):  # a field the message names is missing
            return message
