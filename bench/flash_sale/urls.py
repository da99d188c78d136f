"""The production URLs plus the benchmark's reference: the minimal purchase in raw SQL."""

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as production_urlpatterns


@csrf_exempt
def raw_purchase(request):
    """One conditional update of the hot row and one insert, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE bench_hot_row SET remaining = remaining - 1 WHERE id = 1 AND remaining >= 1")
        if cursor.rowcount == 0:
            return JsonResponse({"error": {"code": "sold_out", "message": "Sold out.", "fields": {}}}, status=409)
        cursor.execute(
            "INSERT INTO bench_purchase (buyer, created_at) VALUES (%s, now()) RETURNING id",
            [request.headers.get("X-Buyer", "")],
        )
        purchase_id = cursor.fetchone()[0]
    return JsonResponse({"id": purchase_id}, status=201)


urlpatterns = [path("bench/raw-purchase", raw_purchase), *production_urlpatterns]
