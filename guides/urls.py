"""guides' URLs, one list per audience; config/urls.py mounts each under its prefix."""

from django.urls import path

from guides.api import console, guide, mp

mp_urls = [
    path("visits", mp.MpVisitApi.as_view(), name="mp-visits"),
]
guide_urls = [
    path("dashboard", guide.GuideDashboardApi.as_view(), name="guide-dashboard"),
    path("shares", guide.GuideShareListCreateApi.as_view(), name="guide-shares"),
    path("shares/<int:share_id>/<str:image>.png", guide.GuideShareImageApi.as_view(), name="guide-share-image"),
    path("customers", guide.GuideCustomerListApi.as_view(), name="guide-customers"),
    path("orders", guide.GuideOrderListApi.as_view(), name="guide-orders"),
    path("commissions", guide.GuideLedgerApi.as_view(), name="guide-commissions"),
    path("settlements", guide.GuideSettlementListApi.as_view(), name="guide-settlements"),
    path("leaderboard", guide.GuideLeaderboardApi.as_view(), name="guide-leaderboard"),
    path("team", guide.GuideTeamApi.as_view(), name="guide-team"),
    path("follow-ups", guide.GuideFollowUpListApi.as_view(), name="guide-follow-ups"),
    path(
        "follow-ups/<int:room_id>/<int:customer_id>/contacted",
        guide.GuideFollowUpContactedApi.as_view(),
        name="guide-follow-up-contacted",
    ),
]
console_urls = [
    path("stores", console.ConsoleStoreListCreateApi.as_view(), name="console-stores"),
    path("stores/import", console.ConsoleStoreImportApi.as_view(), name="console-stores-import"),
    path("stores/<int:store_id>", console.ConsoleStoreDetailApi.as_view(), name="console-store"),
    path("guides", console.ConsoleGuideListCreateApi.as_view(), name="console-guides"),
    path("guides/import", console.ConsoleGuideImportApi.as_view(), name="console-guides-import"),
    path("guides/<int:guide_id>", console.ConsoleGuideDetailApi.as_view(), name="console-guide"),
    path("guides/<int:guide_id>/leave", console.ConsoleGuideLeaveApi.as_view(), name="console-guide-leave"),
    path("shares", console.ConsoleShareListCreateApi.as_view(), name="console-shares"),
    path("shares/<int:share_id>/<str:image>.png", console.ConsoleShareImageApi.as_view(), name="console-share-image"),
    path("commission/policy", console.ConsoleCommissionPolicyApi.as_view(), name="console-commission-policy"),
    path("commission/rules", console.ConsoleCommissionRuleListCreateApi.as_view(), name="console-commission-rules"),
    path(
        "commission/rules/<int:rule_id>",
        console.ConsoleCommissionRuleDeleteApi.as_view(),
        name="console-commission-rule",
    ),
    path("commissions", console.ConsoleLedgerApi.as_view(), name="console-commissions"),
    path("settlements", console.ConsoleSettlementListApi.as_view(), name="console-settlements"),
    path("settlements/run", console.ConsoleSettlementRunApi.as_view(), name="console-settlements-run"),
    path("campaigns", console.ConsoleCampaignListCreateApi.as_view(), name="console-campaigns"),
    path("leaderboard", console.ConsoleLeaderboardApi.as_view(), name="console-leaderboard"),
]
