"""The marketplace's services: submit → reject with a reason → resubmit → approve, the states, forks
and their updates, and who may do what."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Project
from components import services as component_services
from components.marketplace import services
from components.marketplace.models import Fork, Listing, ListingState, Submission
from tests.factories import make_component, make_project
from tests.marketplace_setup import CODE_V2, listed, make_greeter, make_validator, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def vera(alice):  # type: ignore[no-untyped-def]
    return make_validator()


def test_the_whole_cycle_reject_fix_resubmit_approve(alice, bob, project, vera):
    component = make_greeter(project=project, actor=bob)
    submission = submit(component, bob, icon="👋", closed_source=False)
    listing = submission.listing
    assert (listing.state, listing.is_public) == (ListingState.SUBMITTED, False)

    services.listing_reject(submission=submission, actor=vera, reason="Greets nobody when the name is empty.")
    listing.refresh_from_db()
    assert listing.state == ListingState.REJECTED
    assert listing.latest_submission().reason == "Greets nobody when the name is empty."
    assert not listing.is_public

    component_services.component_update(component=component, actor=bob, code=CODE_V2)
    component_services.component_publish(component=component, actor=bob)
    again = submit(component, bob)
    assert again.version.number == 2
    listing = services.listing_approve(submission=again, actor=vera)
    assert listing.state == ListingState.APPROVED
    assert listing.approved_version.number == 2
    assert (listing.name, listing.icon, listing.tags) == ("Greeter", "", ["demo", "greeting"])
    assert Listing.objects.public().get() == listing


def test_an_approved_listing_stays_public_while_a_newer_submission_waits(alice, project, vera):
    component = make_greeter(project=project, actor=alice)
    listing = listed(component, alice, vera)
    component_services.component_publish(component=component, actor=alice)
    pending = submit(component, alice, description="Now friendlier.")
    listing.refresh_from_db()
    assert listing.state == ListingState.SUBMITTED
    assert listing.is_public
    assert listing.approved_version.number == 1
    assert listing.description == "Says hello to whoever you name."  # the approved text, until approval
    services.listing_reject(submission=pending, actor=vera, reason="No.")
    listing.refresh_from_db()
    assert (listing.state, listing.approved_version.number) == (ListingState.REJECTED, 1)


def test_a_resubmission_replaces_the_one_still_waiting(alice, project):
    component = make_greeter(project=project, actor=alice)
    first = submit(component, alice)
    second = submit(component, alice, description="Better words.")
    assert list(Submission.objects.values_list("pk", flat=True)) == [second.pk]
    assert not Submission.objects.filter(pk=first.pk).exists()


def test_submitting_needs_a_published_version_and_a_description(alice, project):
    draft = make_component(project=project, actor=alice, name="Draft", publish=False)
    with pytest.raises(ValidationError) as caught:
        submit(draft, alice)
    assert "version" in caught.value.message_dict
    component = make_greeter(project=project, actor=alice)
    with pytest.raises(ValidationError) as caught:
        submit(component, alice, description="  ")
    assert "description" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        submit(component, alice, version=7)
    assert "version" in caught.value.message_dict


def test_submitting_needs_edit_in_the_project(alice, project, viewer, charlie):
    component = make_greeter(project=project, actor=alice)
    with pytest.raises(PermissionDenied):
        submit(component, viewer)
    with pytest.raises(Project.DoesNotExist):
        submit(component, charlie)


def test_rejecting_needs_a_reason(alice, project, vera):
    submission = submit(make_greeter(project=project, actor=alice), alice)
    with pytest.raises(ValidationError) as caught:
        services.listing_reject(submission=submission, actor=vera, reason="   ")
    assert "reason" in caught.value.message_dict
    submission.refresh_from_db()
    assert submission.state == ListingState.SUBMITTED


def test_only_validators_and_superusers_review(alice, bob, charlie, project):
    assert alice.is_superuser
    submission = submit(make_greeter(project=project, actor=bob), bob)
    for outsider in (bob, charlie):  # the author's editor, and a stranger
        with pytest.raises(PermissionDenied):
            services.listing_approve(submission=submission, actor=outsider)
        with pytest.raises(PermissionDenied):
            services.listing_reject(submission=submission, actor=outsider, reason="no")
    assert services.listing_approve(submission=submission, actor=alice).is_public


def test_a_decided_submission_cannot_be_decided_again(alice, project, vera):
    submission = submit(make_greeter(project=project, actor=alice), alice)
    services.listing_approve(submission=submission, actor=vera)
    with pytest.raises(ValidationError):
        services.listing_reject(submission=submission, actor=vera, reason="changed my mind")


def test_a_fork_is_a_published_copy_that_remembers_its_parent(alice, charlie, project, vera):
    listing = listed(make_greeter(project=project, actor=alice), alice, vera)
    mine = make_project(owner=charlie, name="Charlie's")
    component, created = services.component_fork(listing=listing, project=mine, actor=charlie)
    assert created
    assert component.project == mine
    assert component.code == listing.approved_version.code
    assert component.latest_version().number == 1
    fork = Fork.objects.get(component=component)
    assert (fork.listing, fork.version_number, fork.update_available) == (listing, 1, False)
    again, created = services.component_fork(listing=listing, project=mine, actor=charlie)
    assert (again, created) == (component, False)


def test_forking_needs_edit_in_the_target_project_and_an_approved_listing(alice, charlie, project, viewer, vera):
    component = make_greeter(project=project, actor=alice)
    pending = submit(component, alice).listing
    mine = make_project(owner=charlie, name="Charlie's")
    with pytest.raises(ValidationError):
        services.component_fork(listing=pending, project=mine, actor=charlie)
    listing = services.listing_approve(submission=pending.latest_submission(), actor=vera)
    with pytest.raises(Project.DoesNotExist):
        services.component_fork(listing=listing, project=mine, actor=viewer)
    with pytest.raises(PermissionDenied):
        services.component_fork(listing=listing, project=project, actor=viewer)


def test_a_fork_shows_update_available_and_updates_only_on_request(alice, bob, charlie, project, vera):
    original = make_greeter(project=project, actor=alice)
    listing = listed(original, alice, vera)
    mine = make_project(owner=charlie, name="Charlie's")
    component, _ = services.component_fork(listing=listing, project=mine, actor=charlie)

    component_services.component_update(component=original, actor=alice, code=CODE_V2)
    component_services.component_publish(component=original, actor=alice)
    pending = submit(original, alice)
    assert not Fork.objects.get(component=component).update_available  # not approved yet
    services.listing_approve(submission=pending, actor=vera)

    fork = Fork.objects.get(component=component)
    assert fork.update_available
    component.refresh_from_db()
    assert component.code != CODE_V2  # nothing changes by itself
    with pytest.raises(Project.DoesNotExist):  # the parent's editor is no member of the forker's project
        services.fork_update(component=component, actor=bob)
    updated = services.fork_update(component=component, actor=charlie)
    assert updated.code == CODE_V2
    assert updated.latest_version().number == 2
    fork.refresh_from_db()
    assert (fork.version_number, fork.update_available) == (2, False)
    with pytest.raises(ValidationError, match="up to date"):
        services.fork_update(component=component, actor=charlie)


def test_a_fork_cannot_be_submitted(alice, charlie, project, vera):
    listing = listed(make_greeter(project=project, actor=alice), alice, vera)
    component, _ = services.component_fork(listing=listing, project=make_project(owner=charlie), actor=charlie)
    with pytest.raises(ValidationError, match="fork"):
        submit(component, charlie)


def test_withdrawing_makes_it_private_and_forks_keep_working(alice, charlie, project, viewer, vera):
    component = make_greeter(project=project, actor=alice)
    listing = listed(component, alice, vera)
    fork, _ = services.component_fork(listing=listing, project=make_project(owner=charlie), actor=charlie)
    component_services.component_publish(component=component, actor=alice)
    pending = submit(component, alice)
    with pytest.raises(PermissionDenied):
        services.listing_withdraw(component=component, actor=viewer)
    listing = services.listing_withdraw(component=component, actor=alice)
    assert (listing.state, listing.is_public) == (ListingState.PRIVATE, False)
    assert not Listing.objects.public().exists()
    assert not Submission.objects.filter(pk=pending.pk).exists()
    assert not Fork.objects.get(component=fork).update_available
    assert fork.latest_version().number == 1  # still the project's published copy
    with pytest.raises(ValidationError):
        services.listing_withdraw(component=component, actor=alice)
