"""A person's e-mail address and ids on the platforms, as the robots and apps @-mention or address
them: ``wecom`` (the WeCom user id, 帐号), ``mobile`` (the mobile number DingTalk
mentions by, and WeCom when no user id is known) and ``feishu`` (the open_id or
user_id Feishu mentions by). Pure: values in, one-line refusals out."""

from __future__ import annotations

import re

from torchflow.errors import InvalidInput
from torchflow.i18n import _

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
KINDS: dict[str, tuple[re.Pattern[str], str, str]] = {
    "wecom": (re.compile(r"^[A-Za-z0-9_.@-]{1,64}$"), "--wecom-id", "WangLi"),
    "mobile": (re.compile(r"^(\+?86)?1[3-9][0-9]{9}$"), "--dingtalk-mobile", "13800001111"),
    "feishu": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), "--feishu-id",
               "ou_7d8a6e6df7621556ce0d21922b676706"),
}


def check_ids(ids: dict[str, str]) -> dict[str, str]:
    """``ids`` checked; an empty value removes that id."""
    for kind, value in ids.items():
        pattern, flag, example = KINDS[kind]
        if value and not pattern.fullmatch(value):
            raise InvalidInput(_("{flag} {value} is not valid; e.g. {example}", flag=flag,
                                 value=repr(value), example=example))
    return ids


def merged(current: dict[str, str] | None, changes: dict[str, str]) -> dict[str, str]:
    """The ids a person ends with: ``changes`` over ``current``, "" removing."""
    ids = {**(current or {}), **check_ids(changes)}
    return {k: v for k, v in sorted(ids.items()) if v}
