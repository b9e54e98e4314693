"""Known answers for the platforms' signature schemes.

The inputs are the platforms' own examples (DingTalk's sample secret "this is
secret"; Feishu's sample timestamp 1599360473 from its custom-bot guide); the
answers were computed independently with OpenSSL:

    printf '1577262236757\\nthis is secret' | openssl dgst -sha256 \\
        -hmac 'this is secret' -binary | base64
    printf '' | openssl dgst -sha256 -mac HMAC -binary \\
        -macopt hexkey:$(printf '1599360473\\nthis is secret' | xxd -p | tr -d '\\n') | base64
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote_plus

from torchflow.channels import dingtalk_robot, feishu_robot
from torchflow.channels.robots import now_ms
from torchflow.channels.webhook import sign as webhook_sign

SECRET = "this is secret"
DINGTALK_MS = 1577262236757
DINGTALK_SIGN = "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="
FEISHU_TS = 1599360473
FEISHU_SIGN = "/eYKrXQBzTjUZJ3s6NX16VxGbTwmK7AEs8/FnvC1CSw="


def test_dingtalk_sign_is_hmac_keyed_by_the_secret_over_stamp_newline_secret() -> None:
    value = dingtalk_robot.sign(SECRET, DINGTALK_MS)
    assert value == "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"  # URL-encoded
    assert unquote_plus(value) == DINGTALK_SIGN


def test_feishu_sign_is_hmac_keyed_by_stamp_newline_secret_over_nothing() -> None:
    assert feishu_robot.sign(SECRET, FEISHU_TS) == FEISHU_SIGN


def test_the_two_schemes_are_not_each_others() -> None:
    # The mix-up the platforms' forums are full of: key and message swapped.
    assert unquote_plus(dingtalk_robot.sign(SECRET, FEISHU_TS)) != FEISHU_SIGN
    assert feishu_robot.sign(SECRET, DINGTALK_MS) != DINGTALK_SIGN


def test_the_webhook_signature_is_stripes_scheme() -> None:
    # printf '1796162362.{}' | openssl dgst -sha256 -hmac 'this is secret'
    assert webhook_sign(SECRET, b"{}", 1796162362) == (
        "t=1796162362,v1=63b0fceaa428da26fe3fc6c34a1e865561585002544102777ac4db8959664914")


def test_a_dingtalk_timestamp_is_milliseconds_of_the_wall_clock() -> None:
    at = datetime(2019, 12, 25, 8, 23, 56, 757000, tzinfo=UTC)
    assert now_ms(lambda: at) == DINGTALK_MS
