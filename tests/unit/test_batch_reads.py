"""BatchGetItem over several tables: 100 keys a request, every table strongly consistent,
unprocessed keys asked for again until none is left (or it gives up, saying which tables)."""

import pytest

from meshline.dal import batch_reads


class FakeDynamoDB:
    """Answers each key with an item holding it, leaving the first `unprocessed` requests' last key unprocessed."""

    def __init__(self, unprocessed: int = 0):
        self.requests: list[dict] = []
        self.unprocessed = unprocessed

    def batch_get_item(self, RequestItems):
        self.requests.append(RequestItems)
        assert sum(len(table["Keys"]) for table in RequestItems.values()) <= batch_reads.BATCH_LIMIT
        responses = {table: [dict(key) for key in request["Keys"]] for table, request in RequestItems.items()}
        if self.unprocessed:
            self.unprocessed -= 1
            table = sorted(RequestItems)[-1]
            held = responses[table].pop()
            return {"Responses": responses, "UnprocessedKeys": {table: {"Keys": [held], "ConsistentRead": True}}}
        return {"Responses": responses, "UnprocessedKeys": {}}


def keys(prefix: str, count: int) -> list[dict]:
    return [{"pk": {"S": prefix}, "sk": {"S": f"{index:03d}"}} for index in range(count)]


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setattr(batch_reads.time, "sleep", lambda seconds: None)

    def use(fake):
        monkeypatch.setattr(batch_reads, "client", lambda service: fake)
        return fake

    return use


def test_keys_of_several_tables_share_requests_of_at_most_100_keys(dynamodb):
    fake = dynamodb(FakeDynamoDB())
    found = batch_reads.batch_get({"tenants": keys("t", 150), "exports": keys("e", 1), "empty": []})
    assert found == {"tenants": keys("t", 150), "exports": keys("e", 1), "empty": []}
    assert [{table: len(request["Keys"]) for table, request in asked.items()} for asked in fake.requests] == [
        {"tenants": 100}, {"tenants": 50, "exports": 1}]
    assert all(request["ConsistentRead"] for asked in fake.requests for request in asked.values())


def test_unprocessed_keys_are_asked_for_again(dynamodb):
    fake = dynamodb(FakeDynamoDB(unprocessed=3))
    found = batch_reads.batch_get({"tenants": keys("t", 2), "exports": keys("e", 1)})
    assert found == {"tenants": keys("t", 2), "exports": keys("e", 1)}
    assert len(fake.requests) == 4 and fake.requests[1] == {"tenants": {"Keys": keys("t", 2)[1:], "ConsistentRead": True}}


def test_keys_still_unprocessed_after_every_attempt_fail_the_read(dynamodb):
    dynamodb(FakeDynamoDB(unprocessed=batch_reads.ATTEMPTS))
    with pytest.raises(RuntimeError, match="tenants: keys still unprocessed after 8 attempts"):
        batch_reads.batch_get({"tenants": keys("t", 1)})
