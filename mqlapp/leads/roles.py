"""Roles are Django groups; these helpers and DRF permissions apply SPEC §2's matrix."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, Group
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

MARKETER = "marketer"
SALES = "sales"
ADMIN = "admin"
ROLES = (MARKETER, SALES, ADMIN)


def user_role(user: Any) -> str | None:
    """The user's one role; a superuser counts as admin."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    for role in (ADMIN, MARKETER, SALES):
        if role in names:
            return role
    return None


def ensure_groups() -> None:
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class _RolePermission(BasePermission):
    """Authenticated, and the user's role is one of `roles` (for `methods`, or all methods)."""

    roles: tuple[str, ...] = ()
    read_roles: tuple[str, ...] = ROLES
    message = "Your role may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        role = user_role(request.user)
        if role is None:
            return False
        allowed = self.read_roles if request.method in SAFE_METHODS else self.roles
        return role in allowed


class ReadAnyWriteMarketer(_RolePermission):
    """Reads for every role; writes for marketers and admins (leads, scoring rules)."""

    roles = (MARKETER, ADMIN)


class ReadAnyWriteAdmin(_RolePermission):
    """Reads for every role; writes for admins (the MQL policy)."""

    roles = (ADMIN,)


class AdminOnly(_RolePermission):
    roles = (ADMIN,)
    read_roles = (ADMIN,)


class SalesOrAdmin(_RolePermission):
    roles = (SALES, ADMIN)
    read_roles = (SALES, ADMIN)


class MarketerOrAdmin(_RolePermission):
    roles = (MARKETER, ADMIN)
    read_roles = (MARKETER, ADMIN)


class AnyRole(_RolePermission):
    roles = ROLES
