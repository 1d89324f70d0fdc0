"""allauth adapters: the hooks where a new account gets its roles, first-user rights and invitations.

Every new account, by email or social login, goes through ``services.user_on_signup`` exactly
once. A social sign-up that needs a form (the provider gave no usable address) passes through
both adapters' ``save_user``; the social adapter runs the hook then, once the addresses exist.
Invitations follow proven addresses: at sign-up when the address is verified, else when the
user confirms it (``confirm_email``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.forms import SignupForm as SocialSignupForm

from accounts import services
from synchronise.lib.site import email_site, on_site

if TYPE_CHECKING:
    from django.http import HttpRequest

    from accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # allauth names the Site row (example.com) and builds links on the request's host; an
        # email is read elsewhere, so it says SITE_NAME and links to SITE_URL (synchronise/lib/site.py).
        context = {
            **context,
            "current_site": email_site(),
            **{
                key: on_site(value) for key, value in context.items() if key.endswith("_url") and isinstance(value, str)
            },
        }
        super().send_mail(template_prefix, email, context)

    def save_user(self, request: HttpRequest, user: User, form: Any, commit: bool = True) -> User:
        user = super().save_user(request, user, form, commit=commit)
        if commit and not isinstance(form, SocialSignupForm):
            # An address typed into the sign-up form is proven only by its confirmation link,
            # unless the installation verifies no address at all.
            unverified_trusted = account_settings.EMAIL_VERIFICATION == account_settings.EmailVerificationMethod.NONE
            services.user_on_signup(user=user, email_verified=unverified_trusted)
        return user

    def confirm_email(self, request: HttpRequest, email_address: EmailAddress) -> bool:
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            services.invitations_accept(user=email_address.user, email=email_address.email)
        return confirmed


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> User:
        # Saves the user, then its addresses, marked verified when the provider says so.
        user = super().save_user(request, sociallogin, form)
        verified = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
        services.user_on_signup(user=user, email_verified=verified)
        return user
