"""Emails name Synchronise (not the Site row's ``example.com``) and link to ``SITE_URL``, which is
derived from ``HOST``/``PORT`` when it is not set; an invitation to someone who already has an
account asks them to sign in, not to create another account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import services
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

SITE = "http://platform.test:9123"
ROOT = Path(__file__).resolve().parent.parent


def links(text: object) -> list[str]:
    return [word for word in str(text).split() if word.startswith(("http://", "https://"))]


def assert_ours(message: mail.EmailMessage) -> None:
    """Named Synchronise, every link on SITE_URL, nothing of example.com or the request's host."""
    text = f"{message.subject}\n{message.body}"
    assert "example.com" not in text.replace("@example.com", "").replace("%40example.com", ""), text
    assert "testserver" not in text, text
    assert links(message.body), message.body
    assert all(link.startswith(SITE + "/") for link in links(message.body)), links(message.body)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def invite(project, alice, email: str, django_capture_on_commit_callbacks) -> mail.EmailMessage:
    with django_capture_on_commit_callbacks(execute=True):
        services.member_invite(project=project, actor=alice, email=email, permission="view")
    assert [m.to for m in mail.outbox] == [[email]]
    return mail.outbox[0]


def test_an_invitation_to_a_new_address_asks_to_create_an_account(
    project, alice, mailoutbox, django_capture_on_commit_callbacks
):
    message = invite(project, alice, "newcomer@example.com", django_capture_on_commit_callbacks)
    assert_ours(message)
    assert message.subject == "Alice invited you to Alice's project on Synchronise"
    assert "Create your account with this address" in message.body
    assert f"{SITE}/accounts/signup/?email=newcomer%40example.com" in links(message.body)
    assert "sign in" not in message.body


def test_an_invitation_to_an_existing_account_asks_to_sign_in(
    project, alice, mailoutbox, django_capture_on_commit_callbacks
):
    # An account whose address is not confirmed yet is invited (a confirmed one is added at once).
    make_user(email="returning@example.com", verified=False)
    message = invite(project, alice, "returning@example.com", django_capture_on_commit_callbacks)
    assert_ours(message)
    assert "You already have an account with this address: sign in to accept." in message.body
    assert "Create your account" not in message.body
    assert f"{SITE}/accounts/login/?next=%2Faccounts%2Femail%2F" in links(message.body)


def test_a_member_added_at_once_is_told_with_a_link_on_the_site(
    project, alice, charlie, mailoutbox, django_capture_on_commit_callbacks
):
    message = invite(project, alice, "charlie@example.com", django_capture_on_commit_callbacks)
    assert_ours(message)
    assert message.subject == "You were added to Alice's project on Synchronise"
    assert links(message.body) == [f"{SITE}/projects/{project.pk}/"]


def test_the_password_reset_email_uses_the_site_name_and_address(alice, mailoutbox):
    response = Client().post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302, response.content
    [message] = mail.outbox
    assert message.subject.startswith("[Synchronise] ")
    assert_ours(message)
    assert links(message.body)[0].startswith(f"{SITE}/accounts/password/reset/key/")
    # The link works: the key in it opens the form to choose a new password.
    path = links(message.body)[0].removeprefix(SITE)
    assert Client().get(path, follow=True).status_code == 200


def test_the_signup_confirmation_email_uses_the_site_name_and_address(mailoutbox):
    response = Client().post(
        reverse("account_signup"), {"email": "fresh@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content
    [message] = mail.outbox
    assert message.subject.startswith("[Synchronise] ")
    assert "Synchronise" in message.body
    assert_ours(message)
    assert links(message.body)[0].startswith(f"{SITE}/accounts/confirm-email/")


def test_the_site_row_is_named_synchronise():
    # Pages allauth renders itself (a social sign-up's form) name the Site row.
    assert Site.objects.get_current().name == "Synchronise"


def site_url_of(**env: str) -> str:
    """``settings.SITE_URL`` as a platform started with this environment computes it."""
    child = {key: value for key, value in os.environ.items() if key not in ("SITE_URL", "HOST", "PORT")}
    child.update(env, DJANGO_SETTINGS_MODULE="synchronise.settings")
    script = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    done = subprocess.run(  # our own interpreter, a fixed script
        [sys.executable, "-c", script], env=child, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_site_url_is_derived_from_host_and_port_unless_set():
    assert site_url_of() == "http://127.0.0.1:8000"
    assert site_url_of(HOST="192.0.2.7", PORT="8080") == "http://192.0.2.7:8080"
    assert site_url_of(HOST="0.0.0.0", PORT="9000") == "http://localhost:9000"  # noqa: S104  # every interface
    assert site_url_of(HOST="::1", PORT="9000") == "http://[::1]:9000"
    assert site_url_of(HOST="0.0.0.0", PORT="9000", SITE_URL="https://sync.example.org/") == "https://sync.example.org"  # noqa: S104
