"""The two browser pages. Django only hands out the page and the mini-program's appid: all data
comes from the public REST API and the room's websocket, so each page is a reference client."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from livestream.models import LiveRoom


@require_GET
def viewer_page(request, room_id: int):
    # A mini-program knows its own appid; this H5 stand-in learns it from the room's brand.
    appid = LiveRoom.unscoped.filter(pk=room_id).values_list("brand__appid", flat=True).first()
    if appid is None:
        raise Http404("No such live room.")
    return render(request, "web/viewer.html", {"room_id": room_id, "appid": appid})


@require_GET
def console_page(request, room_id: int):
    # No lookup here: whether the room exists, and is the staff member's brand's, is the API's call.
    return render(request, "web/console.html", {"room_id": room_id})
