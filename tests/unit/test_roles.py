"""The permission table: one source for the API and the workflows' validators."""

import pytest

from domain.errors import PermissionDenied
from domain.roles import PERMISSIONS, Permission, Role, parse_roles, permissions_of, require
from domain.rules import RuleId


def test_every_permission_is_granted_by_a_rule() -> None:
    assert set(PERMISSIONS) == set(Permission)
    for grant in PERMISSIONS.values():
        assert grant.roles, grant
        assert isinstance(grant.rule, RuleId)


def test_only_the_operations_manager_reviews() -> None:
    """R-REVIEW-ALL."""
    for role in Role:
        if role is Role.OPERATIONS_MANAGER:
            require({role}, Permission.ARTICLE_REVIEW)
        else:
            with pytest.raises(PermissionDenied) as caught:
                require({role}, Permission.ARTICLE_REVIEW)
            assert caught.value.rule is RuleId.REVIEW_ALL
            assert caught.value.permission == "article.review"


def test_only_the_general_manager_confirms() -> None:
    """R-REVIEW-PROJECT."""
    allowed = {r for r in Role if Permission.ARTICLE_CONFIRM in permissions_of({r})}
    assert allowed == {Role.GENERAL_MANAGER}


def test_closing_without_reply_is_the_managers_alone() -> None:
    allowed = {r for r in Role if Permission.INQUIRY_CLOSE in permissions_of({r})}
    assert allowed == {Role.OPERATIONS_MANAGER}


def test_the_auditor_only_reads() -> None:
    held = permissions_of({Role.AUDITOR})
    assert held
    assert all(p.value.endswith(".read") for p in held)


def test_refusal_names_permission_and_rule() -> None:
    with pytest.raises(PermissionDenied, match=r"R-REVIEW-ALL: permission 'article.review' is not granted"):
        require({Role.PROMOTION_SPECIALIST}, Permission.ARTICLE_REVIEW)


def test_unknown_role_is_named() -> None:
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        parse_roles(["content_specialist", "boss"])
