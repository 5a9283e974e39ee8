"""Device classes: real User-Agents for each case of the issue, Client Hints, the byte-bounded cache,
and agreement with the uap-core sample in tests/data/uap-core/."""

from __future__ import annotations

import collections
import csv
import random
import string
import sys
import tracemalloc
from pathlib import Path

import pytest

from app.web.device import (
    CACHE_BYTES,
    UA_LIMIT,
    ByteLRU,
    CachedClassifier,
    ClientHints,
    classify,
    classify_user_agent,
    device_class,
)
from tests.conftest import DESKTOP, GOOGLEBOT, IPAD, IPHONE

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "uap-core" / "devices.tsv"

DDG_ANDROID_11 = (
    "Mozilla/5.0 (Linux; Android 11; SM-A515F) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/96.0.4664.104 Safari/537.36 DuckDuckGo/5"
)
REDUCED_ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
REDUCED_ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)
CHROMECAST = (
    "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/73.0.3683.103 "
    "Safari/537.36 CrKey/1.42.172094"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15"
)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        # Android phones whose browser leaves out "Mobile Safari": not tablets.
        (DDG_ANDROID_11, "mobile"),
        (
            "Mozilla/5.0 (Linux; Android 11) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
            "Chrome/91.0.4472.120 Mobile DuckDuckGo/5 Safari/537.36",
            "mobile",
        ),
        ("Dalvik/2.1.0 (Linux; U; Android 9; SM-G960F Build/PPR1.180610.011)", "mobile"),
        (REDUCED_ANDROID_PHONE, "mobile"),
        ("Mozilla/5.0 (Android 13; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0", "mobile"),
        # Android tablets, with and without "Mobile".
        (REDUCED_ANDROID_TABLET, "tablet"),
        (
            "Mozilla/5.0 (Linux; Android 12; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/108.0.0.0 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 11; SM-T505) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/15.0 Chrome/90.0.4430.210 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 11; Lenovo TB-J606F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.144 Safari/537.36",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFMAWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.4.1 "
            "like Chrome/120.0.6099.230 Safari/537.36",
            "tablet",
        ),
        ("Mozilla/5.0 (Android 13; Tablet; rv:120.0) Gecko/120.0 Firefox/120.0", "tablet"),
        (
            "Mozilla/5.0 (Linux; U; Android 2.2; en-us; GT-P1000 Build/FROYO) AppleWebKit/533.1 "
            "(KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
            "tablet",
        ),
        (
            "Mozilla/5.0 (Linux; Android 4.4.2; Nexus 7 Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/34.0.1847.114 Safari/537.36",
            "tablet",
        ),
        # TVs, casting sticks, consoles: not desktops.
        (CHROMECAST, "other"),
        (
            "Mozilla/5.0 (Linux; Android 12.0; Build/STTL.240206.002) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/115.0.0.0 Safari/537.36 CrKey/1.56.500000 DeviceType/AndroidTV",
            "other",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 "
            "Safari/537.36 HbbTV/1.5.1 (+DRM;Philips;Philips_TV;;;) ",
            "other",
        ),
        (
            "Mozilla/5.0 (Linux; Tizen 2.3) AppleWebKit/538.1 (KHTML, like Gecko) Version/2.3 TV Safari/538.1 "
            "HbbTV/1.2.1 (;Samsung;SmartTV2015;T-HKM6DEUC-1490.3;;)",
            "other",
        ),
        (
            "Opera/9.80 (Linux mips; U; HbbTV/1.1.1 (; Philips; ; ; ; ) CE-HTML/1.0 NETTV/3.2.1; en) "
            "Presto/2.6.33 Version/10.70",
            "other",
        ),
        (
            "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 "
            "Safari/537.36 WebAppManager",
            "other",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
            "other",
        ),
        (
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/13.0 Safari/605.1.15",
            "other",
        ),
        # Headless browsers and monitors.
        (HEADLESS, "bot"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/119.0.0.0 Safari/537.36",
            "bot",
        ),
        (
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
            "bot",
        ),
        ("Mozilla/5.0 (compatible; pingdom.com_bot_version_1.4_(http://www.pingdom.com/))", "bot"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/61.0.3163.100 "
            "Chrome/61.0.3163.100 Safari/537.36 PingdomPageSpeed/1.0 (pingbot/2.0; +http://www.pingdom.com/)",
            "bot",
        ),
        ("NewRelicPinger/1.0 (269705)", "bot"),
        # Search and SEO crawlers.
        (GOOGLEBOT, "bot"),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "bot",
        ),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
            "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
            "bot",
        ),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "bot"),
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "bot"),
        # Feed fetchers.
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers; like FeedFetcher-Google)", "bot"),
        ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "bot"),
        # Link-preview fetchers.
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "bot"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot"),
        ("Twitterbot/1.0", "bot"),
        ("WhatsApp/2.23.20.0", "bot"),
        ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "bot"),
        ("TelegramBot (like TwitterBot)", "bot"),
        ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "bot"),
        # People.
        (IPHONE, "mobile"),
        (IPAD, "tablet"),
        (DESKTOP, "desktop"),
        (MAC_SAFARI, "desktop"),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0", "desktop"),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Linux; Android 4.2.1; en-gb; CUBOT ONE Build/JOP40D) AppleWebKit/534.30 "
            "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
            "mobile",
        ),
        ("Nokia6230/2.0 (04.44) Profile/MIDP-2.0 Configuration/CLDC-1.1", "mobile"),
        # Nothing to go on: other. HTTP libraries and SDKs: scripts, so bots.
        ("", "other"),
        ("   ", "other"),
        ("curl/8.5.0", "bot"),
        ("aws-sdk-java/1.11.134 Linux/4.4.0-1052-aws OpenJDK_64-Bit_Server_VM/25.151-b12/1.8.0_151", "bot"),
    ],
)
def test_user_agent_classes(ua: str, expected: str) -> None:
    assert classify_user_agent(ua) == expected


# ------------------------------------------------------------------ Client Hints


def hinted(ua: str, mobile: str | None = None, platform: str | None = None, model: str | None = None) -> str:
    return classify(classify_user_agent(ua), ua, ClientHints.from_headers(mobile, platform, model))


@pytest.mark.parametrize(
    ("ua", "mobile", "platform", "model", "expected"),
    [
        # ?1 is a phone, whatever a reduced User-Agent says.
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "?1", '"Android"', None, "mobile"),
        (REDUCED_ANDROID_TABLET, "?1", '"Android"', '""', "mobile"),
        # ?0 on Android: a known tablet model, or a User-Agent without "Mobile".
        (REDUCED_ANDROID_TABLET, "?0", '"Android"', '""', "tablet"),
        (REDUCED_ANDROID_PHONE, "?0", '"Android"', '"SM-X205"', "tablet"),
        (REDUCED_ANDROID_PHONE, "?0", '"Android"', '"Pixel 7"', "mobile"),
        (DDG_ANDROID_11, "?0", '"Android"', '"SM-T870"', "tablet"),
        # A phone asking for the desktop site still names its model.
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "?0", '"Android"', '"SM-G991B"', "mobile"),
        # ?0 on a desktop platform.
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "?0", '"Linux"', None, "desktop"),
        (DESKTOP, "?0", '"Windows"', None, "desktop"),
        # Hints that name another system than the string: the string was replaced (device emulation,
        # a screenshot tool's --user-agent, a "desktop site" switch), and the string is what is meant.
        (IPHONE, "?0", '"Linux"', None, "mobile"),
        (DESKTOP, "?1", '"Android"', None, "desktop"),
        (REDUCED_ANDROID_TABLET, "?0", '"Windows"', None, "tablet"),
        (MAC_SAFARI, "?0", '"macOS"', None, "desktop"),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36", "?0", '"Chrome OS"', None, "desktop"),
        # Bots stay bots; a TV is not made a desktop.
        (HEADLESS, "?0", '"Linux"', '""', "bot"),
        (HEADLESS, "?1", '"Android"', None, "bot"),
        (CHROMECAST, "?0", '"Linux"', None, "other"),
        # An unknown platform with ?0 leaves the User-Agent's answer.
        (IPHONE, "?0", '"Unknown"', None, "mobile"),
    ],
)
def test_client_hints_correct_the_user_agent(
    ua: str, mobile: str, platform: str | None, model: str | None, expected: str
) -> None:
    assert hinted(ua, mobile, platform, model) == expected


@pytest.mark.parametrize(
    ("mobile", "platform", "model"),
    [
        ("?2", '"Android"', '"SM-T870"'),
        ("1", '"Android"', None),
        ("?1, ?0", None, None),
        ("", "", ""),
        (None, "Android", "SM-T870"),  # unquoted strings
        ("\x00?1", '"Andr\\"oid"', '"' + "x" * 200 + '"'),
        ("?0", '"Android', '"SM-T870'),
    ],
)
def test_malformed_hints_are_ignored(mobile: str | None, platform: str | None, model: str | None) -> None:
    hints = ClientHints.from_headers(mobile, platform, model)
    assert hints.mobile in (None, False)
    assert hints.platform in (None, "Android") and hints.model in (None, "SM-T870")
    if hints.mobile is None:
        assert classify("desktop", DESKTOP, hints) == "desktop"


def test_hints_are_read_as_structured_header_values() -> None:
    assert ClientHints.from_headers(" ?1 ", ' "Android" ', '"Pixel 7"') == ClientHints(True, "Android", "Pixel 7")
    assert ClientHints.from_headers("?0", '"Windows"', '""') == ClientHints(False, "Windows", None)
    assert ClientHints.from_headers(None, None, None) == ClientHints()


# ----------------------------------------------------------------------- cache


def distinct_user_agents(count: int, seed: int = 1):  # type: ignore[no-untyped-def]
    """Rotating User-Agents of realistic and maximal lengths, each new."""
    rng = random.Random(seed)
    for i in range(count):
        length = rng.choice((60, 140, 220, UA_LIMIT))
        yield f"Mozilla/5.0 ({i}) " + "".join(rng.choices(string.ascii_letters, k=length))


def test_cache_evicts_least_recently_used_by_memory() -> None:
    cache = ByteLRU(max_bytes=10 * ByteLRU.cost("x" * 100))
    keys = [f"k{i:03d}" + "x" * 96 for i in range(12)]
    for key in keys[:10]:
        cache.put(key, "mobile")
    assert len(cache) == 10
    assert cache.get(keys[0]) == "mobile"  # now the most recently used
    cache.put(keys[10], "tablet")
    assert cache.get(keys[1]) is None  # the least recently used went first
    assert cache.get(keys[0]) == "mobile" and cache.get(keys[10]) == "tablet"
    # One long key takes the room of several short ones: the bound is bytes, not entries.
    cache.put("y" * 400, "desktop")
    assert len(cache) < 10 and cache.info().currsize <= cache.max_bytes
    # A key bigger than the whole budget is not kept, and evicts nothing.
    size = len(cache)
    cache.put("z" * 5000, "other")
    assert len(cache) == size


def test_cache_stays_within_its_budget_under_rotating_user_agents() -> None:
    classifier = CachedClassifier(max_bytes=256 * 1024)
    for ua in distinct_user_agents(5000):
        classifier(ua)
        assert classifier.cache_info().currsize <= 256 * 1024
    info = classifier.cache_info()
    assert info.misses == 5000 and info.hits == 0
    assert 300 < len(classifier.cache) < 5000  # it kept what fits, and only that


def test_cache_accounting_covers_the_memory_it_really_holds() -> None:
    """tracemalloc's count of what the cache allocates stays within the bytes it accounts for."""
    budget = 512 * 1024
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = ByteLRU(max_bytes=budget)
        for ua in distinct_user_agents(20_000, seed=2):
            cache.put(ua, "desktop")  # the cache holds the only reference to each key
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.info().currsize <= budget
    assert held <= budget, f"cache holds {held} bytes for a {budget}-byte budget"
    assert held >= 0.5 * cache.info().currsize  # and the estimate is not wildly pessimistic


def test_default_cache_budget_and_counters() -> None:
    assert device_class.cache.max_bytes == CACHE_BYTES == 4 * 1024 * 1024
    device_class.cache_clear()
    device_class(IPHONE)
    device_class(IPHONE)
    assert device_class.cache_info()[:2] == (1, 1)
    # The key is the User-Agent cut to UA_LIMIT: a padded copy is the same entry.
    device_class(IPHONE + " " * UA_LIMIT)
    device_class(IPHONE + " " * UA_LIMIT + "x")
    assert device_class.cache_info().hits == 2
    device_class.cache_clear()
    assert device_class.cache_info() == (0, 0, CACHE_BYTES, 0)


def test_cost_is_key_size_plus_overhead() -> None:
    assert ByteLRU.cost("abc") == sys.getsizeof("abc") + ByteLRU.ENTRY_OVERHEAD


# --------------------------------------------------------- agreement with uap-core

#: Measured on this sample when the rules were written (bench/RESULTS.md): overall 90.3%,
#: mobile 100%, tablet 84.3%, desktop 76%, other 86%, bot 100%. Thresholds leave a little
#: room for ua-parser's monthly rule updates.
MIN_AGREEMENT = {"all": 0.87, "mobile": 0.95, "tablet": 0.80, "desktop": 0.70, "other": 0.80, "bot": 0.95}


def test_agreement_with_the_uap_core_sample() -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 310
    agree: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    for row in rows:
        known = row["class"]
        total[known] += 1
        agree[known] += classify_user_agent(row["user_agent"]) == known
    shares = {c: agree[c] / total[c] for c in total}
    shares["all"] = sum(agree.values()) / len(rows)
    low = {c: round(shares[c], 3) for c, floor in MIN_AGREEMENT.items() if shares[c] < floor}
    assert not low, f"agreement below the measured floor: {low} (all: {shares})"
