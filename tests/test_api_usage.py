from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services
from accounts.models import AccountUsage, Plan, ProjectUsage
from tests.apiclient import API, anonymous, make_key, signed_in, with_secret_key
from tests.factories import make_project

JAN = datetime.date(2030, 1, 15)
FEB = datetime.date(2030, 2, 1)


@pytest.fixture
def five_a_month(alice):  # type: ignore[no-untyped-def]
    plan = Plan.objects.create(name="Five", slug="five", monthly_quota=5, rate_limit="100/min")
    services.user_set_plan(user=alice, plan=plan)
    return plan


def account_count(user, day: datetime.date | None = None) -> int:  # type: ignore[no-untyped-def]
    row = AccountUsage.objects.filter(user=user, month=(day or timezone.now().date()).replace(day=1)).first()
    return row.count if row else 0


# --- usage_consume ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_counts_against_the_owners_plan_and_the_project(project, alice, bob, five_a_month):
    check = services.usage_consume(project=project, requests=2)
    assert (check.allowed, check.used, check.quota, check.remaining) == (True, 2, 5, 3)
    assert account_count(alice) == 2
    assert account_count(bob) == 0  # Bob edits the project; its runs count against its owner
    assert ProjectUsage.objects.get(project=project).count == 2


@pytest.mark.django_db
def test_it_refuses_over_quota_without_counting(project, alice, five_a_month):
    assert services.usage_consume(project=project, requests=4).allowed
    refused = services.usage_consume(project=project, requests=2)
    assert (refused.allowed, refused.used, refused.remaining) == (False, 4, 1)
    assert services.usage_consume(project=project).allowed
    assert not services.usage_consume(project=project).allowed
    assert account_count(alice) == 5
    assert ProjectUsage.objects.get(project=project).count == 5


@pytest.mark.django_db
def test_it_counts_all_projects_of_an_owner_together(project, alice, five_a_month):
    other = make_project(owner=alice, name="Other")
    assert services.usage_consume(project=project, requests=3).allowed
    assert not services.usage_consume(project=other, requests=3).allowed
    assert services.usage_consume(project=other, requests=2).allowed
    assert account_count(alice) == 5


@pytest.mark.django_db
def test_it_resets_in_a_new_month(project, alice, five_a_month):
    assert services.usage_consume(project=project, requests=5, day=JAN).allowed
    assert not services.usage_consume(project=project, day=JAN).allowed
    february = services.usage_consume(project=project, day=FEB)
    assert (february.allowed, february.used) == (True, 1)
    assert account_count(alice, JAN) == 5
    assert account_count(alice, FEB) == 1


@pytest.mark.django_db
def test_an_unlimited_plan_never_refuses(project, alice):
    services.user_set_plan(user=alice, plan=Plan.objects.create(name="Max", slug="max", monthly_quota=-1))
    check = services.usage_consume(project=project, requests=1_000_000)
    assert (check.allowed, check.used, check.quota, check.remaining) == (True, 1_000_000, -1, None)


@pytest.mark.django_db
def test_the_free_plan_uses_the_configured_quota(project, settings):
    settings.FREE_PLAN_MONTHLY_QUOTA = 2
    assert services.usage_consume(project=project, requests=2).allowed
    assert not services.usage_consume(project=project).allowed


@pytest.mark.django_db(transaction=True)
def test_concurrent_consumers_never_overshoot_the_quota(project, alice, five_a_month):
    """Real threads, real connections: the check-and-count is one conditional UPDATE.

    (On SQLite the writers serialize on the database lock; on PostgreSQL they race for the row.)
    """
    workers = 12
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(2):
                allowed = services.usage_consume(project=project).allowed
                with lock:
                    results.append(allowed)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=consume) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == workers * 2
    assert results.count(True) == 5
    assert account_count(alice) == 5
    assert ProjectUsage.objects.get(project=project).count == 5


# --- /api/v1/usage/ -----------------------------------------------------------------------


@pytest.mark.django_db
def test_usage_shows_plan_quota_used_remaining_and_projects(project, alice, five_a_month):
    other = make_project(owner=alice, name="Other")
    services.usage_consume(project=project, requests=2)
    services.usage_consume(project=other, requests=1)
    body = signed_in(alice).get(f"{API}/usage/").json()
    assert body["month"] == f"{timezone.now():%Y-%m}"
    assert body["plan"] == {"name": "Five", "slug": "five", "quota": 5, "unlimited": False, "rate_limit": "100/min"}
    assert (body["quota"], body["used"], body["remaining"]) == (5, 3, 2)
    assert body["projects"] == [
        {"id": project.pk, "name": "Alice's project", "used": 2},
        {"id": other.pk, "name": "Other", "used": 1},
    ]


@pytest.mark.django_db
def test_usage_of_another_month(project, alice, five_a_month):
    services.usage_consume(project=project, requests=3, day=JAN)
    client = signed_in(alice)
    body = client.get(f"{API}/usage/?month=2030-01").json()
    assert (body["month"], body["used"], body["projects"][0]["used"]) == ("2030-01", 3, 3)
    assert client.get(f"{API}/usage/?month=2030-02").json()["used"] == 0
    invalid = client.get(f"{API}/usage/?month=2030-13")
    assert invalid.status_code == 400
    assert "month" in invalid.json()["errors"]


@pytest.mark.django_db
def test_usage_lists_only_the_users_own_projects(project, alice, bob, charlie):
    services.usage_consume(project=project, requests=4)
    bobs = signed_in(bob).get(f"{API}/usage/").json()  # Bob edits Alice's project: not his plan's usage
    assert (bobs["used"], bobs["projects"]) == (0, [])
    charlies = signed_in(charlie).get(f"{API}/usage/").json()
    assert (charlies["used"], charlies["projects"]) == (0, [])


@pytest.mark.django_db
def test_usage_of_an_unlimited_plan(alice):
    services.user_set_plan(user=alice, plan=Plan.objects.create(name="Max", slug="max", monthly_quota=-1))
    body = signed_in(alice).get(f"{API}/usage/").json()
    assert (body["quota"], body["remaining"], body["plan"]["unlimited"]) == (-1, None, True)


@pytest.mark.django_db
def test_usage_with_a_secret_key_shows_the_keys_project_only(project, alice):
    make_project(owner=alice, name="Other")
    _, raw = make_key(project=project, actor=alice)
    body = with_secret_key(raw).get(f"{API}/usage/").json()
    assert [p["id"] for p in body["projects"]] == [project.pk]


@pytest.mark.django_db
def test_usage_and_me_require_authentication():
    assert anonymous().get(f"{API}/usage/").status_code == 401
    assert anonymous().get(f"{API}/me/").status_code == 401


# --- /api/v1/me/ --------------------------------------------------------------------------


@pytest.mark.django_db
def test_me_describes_the_signed_in_user(alice, bob):  # Alice signed up first: she is the superuser
    body = signed_in(bob).get(f"{API}/me/").json()
    assert body["email"] == "bob@example.com"
    assert body["name"] == "Bob"
    assert body["roles"] == ["user"]
    assert body["plan"]["slug"] == "free"
    assert body["api_key"] is None
    assert body["is_superuser"] is False
