from django.urls import path

from tenants.api import console, mp, platform, staff

mp_urls = [
    path("login", mp.MpLoginApi.as_view(), name="mp-login"),
    path("me", mp.MpMeApi.as_view(), name="mp-me"),
]
staff_urls = [
    path("login", staff.StaffLoginApi.as_view(), name="staff-login"),
    path("token/refresh", staff.StaffTokenRefreshApi.as_view(), name="staff-token-refresh"),
    path("me", staff.StaffMeApi.as_view(), name="staff-me"),
    path("invitations/accept", staff.StaffInvitationAcceptApi.as_view(), name="staff-invitation-accept"),
]
console_urls = [
    path("brand", console.ConsoleBrandApi.as_view(), name="console-brand"),
    path("customers", console.ConsoleCustomerListApi.as_view(), name="console-customers"),
    path("customers/<int:customer_id>", console.ConsoleCustomerDetailApi.as_view(), name="console-customer"),
    path("staff/invitations", console.ConsoleStaffInvitationListCreateApi.as_view(), name="console-staff-invitations"),
    path(
        "staff/invitations/<int:invitation_id>/revoke",
        console.ConsoleStaffInvitationRevokeApi.as_view(),
        name="console-staff-invitation-revoke",
    ),
]
guide_urls = []
platform_urls = [
    path("brands", platform.PlatformBrandListCreateApi.as_view(), name="platform-brands"),
    path("brands/<int:brand_id>", platform.PlatformBrandDetailApi.as_view(), name="platform-brand"),
    path("brands/<int:brand_id>/suspend", platform.PlatformBrandSuspendApi.as_view(), name="platform-brand-suspend"),
    path(
        "brands/<int:brand_id>/reactivate",
        platform.PlatformBrandReactivateApi.as_view(),
        name="platform-brand-reactivate",
    ),
]
