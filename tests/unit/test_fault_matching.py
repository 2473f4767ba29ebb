"""The fault harness lands a fault on the calls that concern its order, and only those."""

import gzip

from bench.faults import _names


def test_a_call_names_the_order_when_its_whole_id_is_in_a_key_a_body_or_a_url():
    assert _names({"Key": {"pk": {"S": "ORDER#acme#shopify-12"}, "sk": {"S": "HEAD"}}}, "shopify-12")
    assert _names({"Bucket": "archive", "Key": "exports/acme/shopify-12/v0000000001.json"}, "shopify-12")
    assert _names({"Entries": [{"Detail": '{"export_id": "acme:shopify-12:v1"}'}]}, "shopify-12")
    assert _names({"Body": b'{"order_id": "shopify-12"}'}, "shopify-12")


def test_a_neighbour_whose_id_begins_with_the_same_digits_is_not_named():
    assert not _names({"Key": {"pk": {"S": "ORDER#acme#shopify-123"}}}, "shopify-12")
    assert not _names({"Key": "exports/acme/shopify-120/v0000000001.json"}, "shopify-12")
    assert not _names({"Key": {"pk": {"S": "ORDER#acme#xshopify-12"}}}, "shopify-12")


def test_gzipped_bytes_are_not_searched_but_the_keys_beside_them_are():
    item = {"pk": {"S": "ORDER#acme#shopify-12"}, "document_gz": {"B": gzip.compress(b'{"order_id": "shopify-99"}')}}
    assert _names({"Item": item}, "shopify-12")
    assert not _names({"Item": item}, "shopify-99")
