"""livestream's URLs, one list per audience; config/urls.py mounts each under its prefix."""

from django.urls import path, re_path

from livestream.api import console, interactive, live, mp, platform, reports

LOTTERY = "rooms/<int:room_id>/lotteries/<int:lottery_id>"
BOX = "rooms/<int:room_id>/gift-boxes/<int:box_id>"

interactive_mp_urls = [
    path("rooms/<int:room_id>/lotteries", interactive.MpLotteryListApi.as_view(), name="mp-lotteries"),
    path(f"{LOTTERY}/join", interactive.MpLotteryJoinApi.as_view(), name="mp-lottery-join"),
    path(f"{LOTTERY}/proof", interactive.MpLotteryProofApi.as_view(), name="mp-lottery-proof"),
    path(f"{LOTTERY}/address", interactive.MpPrizeAddressApi.as_view(), name="mp-lottery-address"),
    path("rooms/<int:room_id>/gift-boxes", interactive.MpGiftBoxListApi.as_view(), name="mp-gift-boxes"),
    path(f"{BOX}/open", interactive.MpGiftBoxOpenApi.as_view(), name="mp-gift-box-open"),
]

# Before the rooms' "<action>" route, which would take "lotteries" for an action.
interactive_console_urls = [
    path("rooms/<int:room_id>/lotteries", interactive.ConsoleLotteryListCreateApi.as_view(), name="console-lotteries"),
    path(LOTTERY, interactive.ConsoleLotteryDetailApi.as_view(), name="console-lottery"),
    re_path(
        rf"^rooms/(?P<room_id>[0-9]+)/lotteries/(?P<lottery_id>[0-9]+)/(?P<action>{'|'.join(interactive.LOTTERY_ACTIONS)})$",
        interactive.ConsoleLotteryActionApi.as_view(),
        name="console-lottery-action",
    ),
    path(
        "rooms/<int:room_id>/gift-boxes", interactive.ConsoleGiftBoxListCreateApi.as_view(), name="console-gift-boxes"
    ),
    path(f"{BOX}/stop", interactive.ConsoleGiftBoxStopApi.as_view(), name="console-gift-box-stop"),
]

mp_urls = [
    *interactive_mp_urls,
    path("rooms", mp.MpRoomListApi.as_view(), name="mp-rooms"),
    path("rooms/<int:room_id>", mp.MpRoomDetailApi.as_view(), name="mp-room"),
    path("rooms/<int:room_id>/me", mp.MpRoomViewerApi.as_view(), name="mp-room-me"),
    path("rooms/<int:room_id>/reminder", mp.MpRoomReminderApi.as_view(), name="mp-room-reminder"),
    path("rooms/<int:room_id>/product-clicks", mp.MpProductClickApi.as_view(), name="mp-room-product-clicks"),
    path("festivals/<int:festival_id>", mp.MpFestivalApi.as_view(), name="mp-festival"),
    path("rooms/<int:room_id>/comments", live.MpRoomCommentsApi.as_view(), name="mp-room-comments"),
]

console_urls = [
    *interactive_console_urls,
    path("rooms", console.RoomListCreateApi.as_view(), name="console-rooms"),
    path("rooms/<int:room_id>", console.RoomDetailApi.as_view(), name="console-room"),
    path("rooms/<int:room_id>/replay", console.RoomReplayApi.as_view(), name="console-room-replay"),
    path("rooms/<int:room_id>/products", console.RoomProductsApi.as_view(), name="console-room-products"),
    path("rooms/<int:room_id>/products/order", console.RoomProductsOrderApi.as_view(), name="console-room-order"),
    path(
        "rooms/<int:room_id>/products/<int:product_id>",
        console.RoomProductRemoveApi.as_view(),
        name="console-room-product",
    ),
    path(
        "rooms/<int:room_id>/products/<int:product_id>/sale",
        console.RoomProductSaleApi.as_view(),
        name="console-room-product-sale",
    ),
    path("rooms/<int:room_id>/stats", console.RoomStatsApi.as_view(), name="console-room-stats"),
    path("rooms/<int:room_id>/stream-key", console.RoomStreamKeyApi.as_view(), name="console-room-stream-key"),
    path("rooms/<int:room_id>/push", console.RoomPushApi.as_view(), name="console-room-push"),
    path("rooms/<int:room_id>/costreams", console.CoStreamInviteApi.as_view(), name="console-room-costream"),
    path("rooms/<int:room_id>/comments", live.ConsoleRoomCommentsApi.as_view(), name="console-room-comments"),
    path("rooms/<int:room_id>/report", reports.RoomReportApi.as_view(), name="console-room-report"),
    re_path(
        r"^rooms/(?P<room_id>[0-9]+)/report\.(?P<kind>csv|xlsx)$",
        reports.RoomReportExportApi.as_view(),
        name="console-room-report-export",
    ),
    path("rooms/<int:room_id>/segments", reports.RoomSegmentsApi.as_view(), name="console-room-segments"),
    path("rooms/<int:room_id>/follow-ups", reports.RoomFollowUpsApi.as_view(), name="console-room-follow-ups"),
    path("follow-ups/<int:follow_up_id>", reports.FollowUpDetailApi.as_view(), name="console-follow-up"),
    path("reports", reports.BrandReportApi.as_view(), name="console-reports"),
    re_path(r"^reports\.(?P<kind>csv|xlsx)$", reports.BrandReportExportApi.as_view(), name="console-reports-export"),
    # Actions match only their names, so a GET of an unknown path (``report.pdf``) is a 404, not a 405.
    re_path(
        rf"^rooms/(?P<room_id>[0-9]+)/(?P<action>{'|'.join(console.ROOM_ACTIONS)})$",
        console.RoomActionApi.as_view(),
        name="console-room-action",
    ),
    path("costreams", console.CoStreamListApi.as_view(), name="console-costreams"),
    re_path(
        rf"^costreams/(?P<costream_id>[0-9]+)/(?P<action>{'|'.join(console.COSTREAM_ACTIONS)})$",
        console.CoStreamActionApi.as_view(),
        name="console-costream",
    ),
    re_path(
        rf"^comments/(?P<comment_id>[0-9]+)/(?P<action>{'|'.join(live.COMMENT_ACTIONS)})$",
        live.ConsoleCommentActionApi.as_view(),
        name="console-comment",
    ),
    path("mutes", live.ConsoleMuteListCreateApi.as_view(), name="console-mutes"),
    path("mutes/<int:mute_id>", live.ConsoleMuteDeleteApi.as_view(), name="console-mute"),
    path("festivals", console.ConsoleFestivalListApi.as_view(), name="console-festivals"),
    path("festivals/<int:festival_id>/join", console.VenueJoinApi.as_view(), name="console-festival-join"),
    path("festivals/<int:festival_id>/leave", console.VenueLeaveApi.as_view(), name="console-festival-leave"),
]

platform_urls = [
    path("rooms/<int:room_id>/ban", platform.PlatformRoomBanApi.as_view(), name="platform-room-ban"),
    path("festivals", platform.PlatformFestivalListCreateApi.as_view(), name="platform-festivals"),
    path("festivals/<int:festival_id>", platform.PlatformFestivalDetailApi.as_view(), name="platform-festival"),
    path(
        "festivals/<int:festival_id>/venues",
        platform.PlatformFestivalInviteApi.as_view(),
        name="platform-festival-venues",
    ),
    path(
        "festivals/<int:festival_id>/main-room",
        platform.PlatformFestivalMainRoomApi.as_view(),
        name="platform-festival-main-room",
    ),
    re_path(
        rf"^festivals/(?P<festival_id>[0-9]+)/(?P<action>{'|'.join(platform.FESTIVAL_ACTIONS)})$",
        platform.PlatformFestivalActionApi.as_view(),
        name="platform-festival-action",
    ),
]
