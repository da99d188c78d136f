"""commerce's URLs, one list per audience; config/urls.py mounts each under its prefix."""

from django.urls import path

from commerce.api import console, console_orders, interactive, mp, payments

mp_urls = [
    path("orders", mp.MpOrderListCreateApi.as_view(), name="mp-orders"),
    path("orders/<int:order_id>", mp.MpOrderDetailApi.as_view(), name="mp-order"),
    path("orders/<int:order_id>/cancel", mp.MpOrderCancelApi.as_view(), name="mp-order-cancel"),
    path("orders/<int:order_id>/confirm", mp.MpOrderConfirmApi.as_view(), name="mp-order-confirm"),
    path("orders/<int:order_id>/pay", mp.MpOrderPayApi.as_view(), name="mp-order-pay"),
    path("orders/<int:order_id>/sandbox-pay", mp.MpOrderSandboxPayApi.as_view(), name="mp-order-sandbox-pay"),
    path("orders/<int:order_id>/refund", mp.MpOrderRefundApi.as_view(), name="mp-order-refund"),
    path("flash-sales", mp.MpFlashSaleListApi.as_view(), name="mp-flash-sales"),
    path("group-buys", interactive.MpGroupBuyListApi.as_view(), name="mp-group-buys"),
    path("group-buys/<int:offer_id>/groups", interactive.MpGroupStartApi.as_view(), name="mp-group-start"),
    path("groups/<int:group_id>", interactive.MpGroupDetailApi.as_view(), name="mp-group"),
    path("groups/<int:group_id>/join", interactive.MpGroupJoinApi.as_view(), name="mp-group-join"),
    path("bargain-offers", interactive.MpBargainOfferListApi.as_view(), name="mp-bargain-offers"),
    path("bargain-offers/<int:offer_id>/bargains", interactive.MpBargainStartApi.as_view(), name="mp-bargain-start"),
    path("bargains/<int:bargain_id>", interactive.MpBargainDetailApi.as_view(), name="mp-bargain"),
    path("bargains/<int:bargain_id>/help", interactive.MpBargainHelpApi.as_view(), name="mp-bargain-help"),
    path("bargains/<int:bargain_id>/buy", interactive.MpBargainBuyApi.as_view(), name="mp-bargain-buy"),
]
console_urls = [
    path("products", console.ConsoleProductListCreateApi.as_view(), name="console-products"),
    path("products/<int:product_id>", console.ConsoleProductDetailApi.as_view(), name="console-product"),
    path("products/<int:product_id>/shelf", console.ConsoleProductShelfApi.as_view(), name="console-product-shelf"),
    path("products/<int:product_id>/audit", console.ConsoleProductAuditApi.as_view(), name="console-product-audit"),
    path(
        "products/<int:product_id>/archive", console.ConsoleProductArchiveApi.as_view(), name="console-product-archive"
    ),
    path("products/<int:product_id>/skus", console.ConsoleProductSkuCreateApi.as_view(), name="console-product-skus"),
    path("skus/<int:sku_id>", console.ConsoleSkuDetailApi.as_view(), name="console-sku"),
    path("skus/<int:sku_id>/stock", console.ConsoleSkuStockApi.as_view(), name="console-sku-stock"),
    path("orders", console_orders.ConsoleOrderListApi.as_view(), name="console-orders"),
    path("orders/export.csv", console_orders.ConsoleOrderExportApi.as_view(), name="console-orders-export"),
    path("orders/<int:order_id>", console_orders.ConsoleOrderDetailApi.as_view(), name="console-order"),
    path("orders/<int:order_id>/ship", console_orders.ConsoleOrderShipApi.as_view(), name="console-order-ship"),
    path("refunds", console_orders.ConsoleRefundListApi.as_view(), name="console-refunds"),
    path(
        "refunds/<int:refund_id>/approve",
        console_orders.ConsoleRefundDecisionApi.as_view(approve=True),
        name="console-refund-approve",
    ),
    path(
        "refunds/<int:refund_id>/reject",
        console_orders.ConsoleRefundDecisionApi.as_view(approve=False),
        name="console-refund-reject",
    ),
    path("flash-sales", console_orders.ConsoleFlashSaleListCreateApi.as_view(), name="console-flash-sales"),
    path(
        "flash-sales/<int:flash_sale_id>/withdraw",
        console_orders.ConsoleFlashSaleWithdrawApi.as_view(),
        name="console-flash-sale-withdraw",
    ),
    path("group-buys", interactive.ConsoleGroupBuyListCreateApi.as_view(), name="console-group-buys"),
    path("group-buys/<int:offer_id>/stop", interactive.ConsoleGroupBuyStopApi.as_view(), name="console-group-buy-stop"),
    path("group-buys/<int:offer_id>/groups", interactive.ConsoleGroupListApi.as_view(), name="console-groups"),
    path("bargain-offers", interactive.ConsoleBargainOfferListCreateApi.as_view(), name="console-bargain-offers"),
    path(
        "bargain-offers/<int:offer_id>/stop",
        interactive.ConsoleBargainOfferStopApi.as_view(),
        name="console-bargain-offer-stop",
    ),
    path(
        "bargain-offers/<int:offer_id>/bargains", interactive.ConsoleBargainListApi.as_view(), name="console-bargains"
    ),
]
public_urls = [
    path("payments/notify/wechatpay", payments.wechatpay_notify, name="payments-notify-wechatpay"),
]
