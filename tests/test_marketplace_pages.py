"""The public marketplace pages, signed out: home with its sections, search, tags, publisher,
component page; "Use this component" asks to sign in, then forks; the author's Marketplace tab;
/sitemap.xml."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from components import connectors
from components.marketplace import services
from components.marketplace.models import Collection, Fork
from components.models import Component
from tests.factories import make_project
from tests.marketplace_setup import listed, make_greeter, make_validator, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def vera(alice):  # type: ignore[no-untyped-def]
    return make_validator()


@pytest.fixture
def listing(alice, project, vera):  # type: ignore[no-untyped-def]
    return listed(make_greeter(project=project, actor=alice), alice, vera, icon="👋")


def test_the_home_shows_latest_most_used_collections_and_official_signed_out(client, listing):
    services.collection_save(collection=Collection(title="Staff picks", slug="staff-picks"), listings=[listing])
    page = client.get("/marketplace/").content.decode()
    assert 'class="main"' in page  # the project's chrome
    assert 'name="q"' in page
    for section in ("collection-staff-picks", "latest", "popular", "collection-official"):
        assert f'data-testid="{section}"' in page
    assert page.count(f'href="/marketplace/components/{listing.pk}/"') == 3  # picks, latest, most used
    first = connectors.catalog()[0]
    assert f'href="/marketplace/official/{first.name}/use/"' in page
    assert 'data-synchronise-subscribe="listMarketplace"' in page


def test_search_finds_by_name_description_and_tag(client, listing, alice, project):
    submit(make_greeter(project=project, actor=alice, name="Unreviewed hello"), alice)  # not public
    for query in ("greeter", "whoever", "greeting"):
        page = client.get("/marketplace/", {"q": query}).content.decode()
        assert 'data-testid="search-results"' in page
        assert f'data-testid="listing-{listing.pk}"' in page, query
    page = client.get("/marketplace/", {"q": "unreviewed"}).content.decode()
    assert "Nothing matches" in page
    fragment = client.get("/marketplace/lists/", {"q": "greeter"}).content.decode()
    assert f'data-testid="listing-{listing.pk}"' in fragment


def test_tag_and_publisher_pages(client, listing, project):
    page = client.get("/marketplace/tags/greeting/").content.decode()
    assert f'data-testid="listing-{listing.pk}"' in page
    assert f'data-testid="listing-{listing.pk}"' not in client.get("/marketplace/tags/other/").content.decode()
    page = client.get(f"/marketplace/publishers/{project.pk}/").content.decode()
    assert f"<h1>{project.name}</h1>".replace("'", "&#x27;") in page
    assert client.get("/marketplace/publishers/999999/").status_code == 404


def test_the_component_page_shows_interface_versions_and_code(client, listing):
    page = client.get(f"/marketplace/components/{listing.pk}/").content.decode()
    assert "👋 Greeter" in page
    assert "<code>name</code>" in page
    assert "<code>greeting</code>" in page
    assert "def run(inputs, ctx):" in page
    assert 'data-testid="listing-versions"' in page
    assert ">Use this component</a>" in page


def test_unapproved_components_have_no_page(client, alice, project):
    pending = submit(make_greeter(project=project, actor=alice), alice).listing
    assert client.get(f"/marketplace/components/{pending.pk}/").status_code == 404


def test_use_this_component_asks_to_sign_in_then_forks(client, listing, charlie):
    use = f"/marketplace/components/{listing.pk}/use/"
    response = client.get(use)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={quote(use)}"
    mine = make_project(owner=charlie, name="Charlie's")
    make_project(owner=charlie, name="Another")
    client.force_login(charlie)
    page = client.get(use).content.decode()
    assert re.search(rf'<option value="{mine.pk}"[^>]*>Charlie&#x27;s</option>', page)
    response = client.post(use, {"project": mine.pk})
    fork = Fork.objects.get(project=mine)
    assert response["Location"] == reverse("components_editor", args=[fork.component_id])
    assert Component.objects.get(pk=fork.component_id).name == "Greeter"


def test_use_offers_only_projects_the_user_may_edit(client, listing, project, viewer):
    client.force_login(viewer)
    response = client.post(f"/marketplace/components/{listing.pk}/use/", {"project": project.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode() or "No project" in response.content.decode()
    assert not Fork.objects.exists()


def test_the_official_use_installs_the_connector(client, charlie):
    connector = connectors.catalog()[0]
    mine = make_project(owner=charlie, name="Charlie's")
    client.force_login(charlie)
    response = client.post(f"/marketplace/official/{connector.name}/use/", {"project": mine.pk})
    installed = Component.objects.get(project=mine, connector=connector.name)
    assert response["Location"] == reverse("components_editor", args=[installed.pk])


def test_the_authors_tab_submits_and_shows_the_reason(client, bob, project, vera):
    component = make_greeter(project=project, actor=bob)
    client.force_login(bob)
    tab = f"/components/{component.pk}/marketplace/"
    page = client.get(tab).content.decode()
    assert ">Submit to marketplace</button>" in page
    assert 'data-testid="marketplace-state">private<' in page
    response = client.post(tab, {"description": "", "tags": "x"})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    response = client.post(tab, {"description": "Says hello.", "tags": "hello, demo", "icon": "👋"})
    assert response.status_code == 302
    services.listing_reject(
        submission=component.listing.latest_submission(), actor=vera, reason="Handle an empty name."
    )
    page = client.get(tab).content.decode()
    assert 'data-testid="marketplace-state">rejected<' in page
    assert 'data-testid="rejection-reason"' in page
    assert "Handle an empty name." in page
    assert ">\nSays hello.</textarea>" in page  # the resubmission starts from the last text
    assert 'value="demo, hello"' in page


def test_the_authors_tab_is_for_members_and_submitting_for_editors(client, alice, project, viewer, charlie):
    component = make_greeter(project=project, actor=alice)
    tab = f"/components/{component.pk}/marketplace/"
    client.force_login(charlie)
    assert client.get(tab).status_code == 404
    client.force_login(viewer)
    assert ">Submit to marketplace</button>" not in client.get(tab).content.decode()
    assert client.post(tab, {"description": "Says hello."}).status_code == 403


def test_a_fork_shows_update_available_and_updates_on_request(client, listing, alice, charlie, vera):
    from components import services as component_services
    from tests.marketplace_setup import CODE_V2

    component, _ = services.component_fork(listing=listing, project=make_project(owner=charlie), actor=charlie)
    client.force_login(charlie)
    tab = f"/components/{component.pk}/marketplace/"
    assert 'data-testid="update-available"' not in client.get(tab).content.decode()
    component_services.component_update(component=listing.component, actor=alice, code=CODE_V2)
    component_services.component_publish(component=listing.component, actor=alice)
    services.listing_approve(submission=submit(listing.component, alice), actor=vera)
    page = client.get(tab).content.decode()
    assert 'data-testid="update-available"' in page
    assert "Update to version 2" in page
    client.post(f"/components/{component.pk}/marketplace/update/")
    component.refresh_from_db()
    assert component.code == CODE_V2
    assert 'data-testid="update-available"' not in client.get(tab).content.decode()


def test_the_sitemap_lists_the_public_pages(client, listing, project, alice, settings):
    settings.ALLOWED_HOSTS = ["synchronise.example"]
    submit(make_greeter(project=project, actor=alice, name="Pending"), alice)
    response = client.get("/sitemap.xml", HTTP_HOST="synchronise.example")
    assert response.status_code == 200
    body = response.content.decode()
    locations = set(re.findall(r"<loc>(.*?)</loc>", body))
    assert {
        "http://synchronise.example/marketplace/",
        f"http://synchronise.example/marketplace/components/{listing.pk}/",
        "http://synchronise.example/marketplace/tags/greeting/",
        f"http://synchronise.example/marketplace/publishers/{project.pk}/",
    } <= locations
    pending = project.listings.exclude(pk=listing.pk).get()
    assert f"/marketplace/components/{pending.pk}/" not in body


def test_the_author_withdraws_from_the_tab(client, listing, alice, viewer):
    tab = f"/components/{listing.component_id}/marketplace/"
    client.force_login(viewer)
    assert "Withdraw from the marketplace" not in client.get(tab).content.decode()
    assert client.post(f"/components/{listing.component_id}/marketplace/withdraw/").status_code == 403
    client.force_login(alice)
    assert "Withdraw from the marketplace" in client.get(tab).content.decode()
    client.post(f"/components/{listing.component_id}/marketplace/withdraw/")
    assert 'data-testid="marketplace-state">private<' in client.get(tab).content.decode()
    assert client.get(f"/marketplace/components/{listing.pk}/").status_code == 404
