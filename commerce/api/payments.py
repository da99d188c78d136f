"""The payment provider's notification endpoint (public: WeChat Pay calls it, unauthenticated).

WeChat Pay judges by the HTTP status: 204 means received (also for a repeated delivery);
401 means the signature did not verify (and nothing changed), so it will retry.
"""

import logging

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from commerce.payments.base import InvalidNotification
from commerce.services.payments import payment_notification_received

logger = logging.getLogger("siyu.payments")


@csrf_exempt
@require_POST
def wechatpay_notify(request):
    try:
        payment_notification_received(request.headers, request.body)
    except InvalidNotification as exc:
        logger.warning("Refused a payment notification: %s", exc)
        return JsonResponse({"code": "FAIL", "message": "invalid notification"}, status=401)
    return HttpResponse(status=204)
