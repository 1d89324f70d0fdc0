"""The project chrome, the landing page, the dashboard, the placeholders and allauth's pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Plan, Project, ProjectUsage, month_start
from tests.factories import make_component, make_project, make_workflow

pytestmark = pytest.mark.django_db


def badge_text(page: str) -> str:
    """The navbar's plan badge, as a person reads it."""
    start = page.index('class="plan-badge')
    text = page[page.index(">", start) + 1 : page.index("</a>", start)]
    return " ".join(text.split())


def test_the_landing_page_invites_anonymous_visitors_to_sign_up(client, db):
    page = client.get(reverse("landing")).content.decode()
    assert reverse("account_signup") in page
    assert reverse("account_login") in page
    assert 'class="skip-link" href="#main"' in page
    assert 'id="sidebar"' not in page


def test_the_landing_page_sends_signed_in_users_to_the_dashboard(client, alice):
    client.force_login(alice)
    response = client.get(reverse("landing"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_the_dashboard_needs_a_signed_in_user(client, db):
    response = client.get(reverse("dashboard"))
    assert response["Location"].startswith(reverse("account_login"))


def test_the_chrome_has_the_menu_the_user_menu_and_the_connection_indicator(client, project, bob):
    client.force_login(bob)
    page = client.get(reverse("dashboard")).content.decode()
    for name in ("dashboard", "project_list", "components_home", "workflows_home", "marketplace_home"):
        assert f'href="{reverse(name)}"' in page
    assert 'aria-current="page"' in page
    assert 'id="connection-lost"' in page
    assert 'role="status" aria-live="polite" hidden' in page
    assert f'<form method="post" action="{reverse("account_logout")}">' in page
    assert "bob@example.com" in page


def test_only_staff_see_the_superadmin_link(client, alice, bob):
    assert alice.is_superuser  # the first user ever
    client.force_login(bob)
    assert reverse("admin:index") not in client.get(reverse("dashboard")).content.decode()
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("admin:index")}" data-testid="superadmin-link"' in page


def test_the_plan_badge_shows_the_requests_left_this_month(client, project, alice):
    services.usage_consume(project=project, requests=10)
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    assert badge_text(page) == "Free · 9,990 left"
    assert "10 <small>of 10,000 requests</small>" in page


@pytest.mark.parametrize(("name", "badge"), [("Unlimited", "Unlimited"), ("Pro", "Pro · Unlimited")])
def test_the_plan_badge_of_an_unlimited_plan(client, alice, name, badge):
    plan, _ = Plan.objects.update_or_create(slug=name.lower(), defaults={"name": name, "monthly_quota": Plan.UNLIMITED})
    services.user_set_plan(user=alice, plan=plan)
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert badge_text(response.content.decode()) == badge


def test_the_onboarding_checklist_ticks_the_first_project(client, charlie):
    client.force_login(charlie)
    checklist = client.get(reverse("dashboard")).context["checklist"]
    assert [(item.label, item.done) for item in checklist] == [
        ("Create a project", False),
        ("Create a component", False),
        ("Create a workflow", False),
    ]
    make_project(owner=charlie, name="First")
    page = client.get(reverse("dashboard"))
    assert [item.done for item in page.context["checklist"]] == [True, False, False]
    assert "1 of 3 done" in page.content.decode()
    assert reverse("components_home") in page.content.decode()
    first = Project.objects.get(name="First")
    component = make_component(project=first, actor=charlie)
    assert [item.done for item in client.get(reverse("dashboard")).context["checklist"]] == [True, True, False]
    make_workflow(project=first, actor=charlie, steps=[{"id": "one", "component": component.pk}])
    assert [item.done for item in client.get(reverse("dashboard")).context["checklist"]] == [True, True, True]


def test_the_dashboard_shows_this_months_usage_per_project(client, project, bob):
    ProjectUsage.objects.create(project=project, month=month_start(), count=1234)
    client.force_login(bob)
    response = client.get(reverse("dashboard"))
    # Bob edits Alice's project: its requests count against her plan, listed apart from his own.
    usage = response.context["panels"][0]["data"]
    assert [p.name for p in usage["shared"]] == ["Alice's project"]
    assert usage["owned"] == []
    assert "1,234" in response.content.decode()


def test_the_dashboard_lists_only_the_users_projects(client, project, charlie):
    make_project(owner=charlie, name="Charlie's")
    client.force_login(charlie)
    assert [p.name for p in client.get(reverse("dashboard")).context["projects"]] == ["Charlie's"]


def test_the_marketplace_menu_entry_opens_the_marketplace(client, alice):
    client.force_login(alice)
    page = client.get(reverse("marketplace_home")).content.decode()
    assert "<h1>Marketplace</h1>" in page
    assert 'name="q"' in page
    assert "Coming soon" not in page


def test_the_login_page_wears_the_project_chrome_and_lists_no_unconfigured_provider(client, db):
    page = client.get(reverse("account_login")).content.decode()
    assert '<link rel="stylesheet" href="/static/css/app.css">' in page
    assert 'class="main entrance"' in page
    assert 'for="id_login"' in page
    assert 'for="id_password"' in page
    assert 'class="providers"' not in page  # no social provider is configured in tests


def test_the_signup_page_wears_the_project_chrome(client, db):
    page = client.get(reverse("account_signup")).content.decode()
    assert 'class="main entrance"' in page
    assert 'for="id_email"' in page
    assert 'class="button primary"' in page


@pytest.mark.parametrize(
    ("name", "layout"),
    [("account_change_password", "manage"), ("account_email", "manage"), ("account_logout", "manage")],
)
def test_allauths_account_pages_wear_the_project_chrome(client, alice, name, layout):
    client.force_login(alice)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert f'class="main {layout}"' in response.content.decode()
    assert 'id="sidebar"' in response.content.decode()


def test_the_password_reset_page_wears_the_project_chrome(client, db):
    page = client.get(reverse("account_reset_password")).content.decode()
    assert 'class="main entrance"' in page
    assert 'for="id_email"' in page


def test_the_user_menu_logs_out_with_a_post(client, alice):
    client.force_login(alice)
    response = client.post(reverse("account_logout"))
    assert response["Location"] == reverse("landing")
    assert "_auth_user_id" not in client.session
