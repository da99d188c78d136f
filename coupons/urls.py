"""coupons' URLs, one list per audience; config/urls.py mounts each under its prefix."""

from django.urls import path

from coupons.api import console, guide, mp

mp_urls = [
    path("coupons", mp.MpCouponListApi.as_view(), name="mp-coupons"),
    path("coupons/claim", mp.MpCouponClaimApi.as_view(), name="mp-coupon-claim"),
    path("coupons/claimable", mp.MpClaimableTemplateListApi.as_view(), name="mp-coupons-claimable"),
    path("coupons/for-purchase", mp.MpCouponOptionsApi.as_view(), name="mp-coupons-for-purchase"),
    path("coupons/drops/<int:drop_id>/claim", mp.MpDropClaimApi.as_view(), name="mp-coupon-drop-claim"),
    path("coupons/<int:coupon_id>/code", mp.MpCouponCodeApi.as_view(), name="mp-coupon-code"),
    path("rooms/<int:room_id>/coupon-drops", mp.MpRoomDropListApi.as_view(), name="mp-room-coupon-drops"),
    path("invitations", mp.MpInvitationApi.as_view(), name="mp-invitations"),
    path("invitations/accept", mp.MpInvitationAcceptApi.as_view(), name="mp-invitation-accept"),
]

console_urls = [
    path("coupon-templates", console.TemplateListCreateApi.as_view(), name="console-coupon-templates"),
    path("coupon-templates/<int:template_id>", console.TemplateDetailApi.as_view(), name="console-coupon-template"),
    path(
        "coupon-templates/<int:template_id>/retire",
        console.TemplateRetireApi.as_view(),
        name="console-coupon-template-retire",
    ),
    # Listed before livestream's rooms/<id>/<action>, which would otherwise take the path.
    path("rooms/<int:room_id>/coupon-drops", console.RoomDropListCreateApi.as_view(), name="console-room-coupon-drops"),
    path("coupons", console.IssuedCouponListApi.as_view(), name="console-coupons"),
    path("coupon-redemptions/report", console.RedemptionReportApi.as_view(), name="console-coupon-report"),
    path("referral-program", console.ReferralProgramApi.as_view(), name="console-referral-program"),
]

guide_urls = [
    path("coupons/issue", guide.GuideCouponIssueApi.as_view(), name="guide-coupon-issue"),
    path("coupons/redeem", guide.GuideCouponRedeemApi.as_view(), name="guide-coupon-redeem"),
    path("coupons/redemptions", guide.GuideRedemptionListApi.as_view(), name="guide-coupon-redemptions"),
]
