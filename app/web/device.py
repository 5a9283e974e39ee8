"""Device class from the User-Agent and the Client Hints.

ua-parser (uap-core's rules, on its Rust-backed resolver where installed) names
the device, its brand and model and the OS; the rules below turn that into one
of mobile, tablet, desktop, other (TVs, consoles, watches, unknown) or bot.
They fix what ``user-agents`` got wrong: an Android phone whose browser leaves
out "Mobile Safari" (DuckDuckGo on Android 11) is not a tablet, a known tablet
model that says "Mobile" (the first Galaxy Tabs) is not a phone, Chromecast and
HbbTV sets are not desktops, and headless browsers, monitors, SEO and feed
crawlers and link-preview fetchers are bots, so they never get a cookie.

A browser's Client Hints (``Sec-CH-UA-Mobile``, ``-Platform``, ``-Model``,
asked for by ``Accept-CH``) are believed over its User-Agent string, which
Chromium reduces. Malformed hints are ignored, never an error.

Parsing the User-Agent is cached in an LRU bounded by an estimate of its memory
(``CACHE_BYTES``), not by a count: rotating User-Agents can only evict, never
grow it.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from collections import OrderedDict
from typing import NamedTuple

import ua_parser

#: The User-Agent is cut to this many characters before anything reads it.
UA_LIMIT = 512

#: Memory budget of the User-Agent cache: about 13,000 typical User-Agents
#: (~330 bytes each with the bookkeeping), at least 6,000 at ``UA_LIMIT``.
CACHE_BYTES = 4 * 1024 * 1024

# Headless browsers, monitors, SEO and feed crawlers, link-preview fetchers: substrings of the
# lowercased User-Agent (a plain ``in`` per token is several times cheaper than one big regex),
# plus "bot" at a word end (Googlebot/, Discordbot, TelegramBot) but not in the CUBOT phone brand.
_BOT_TOKENS = (
    "crawl",
    "spider",
    "slurp",
    "scrapy",
    "archiver",
    "headless",
    "phantomjs",
    "pingdom",
    "newrelicpinger",
    "uptime",
    "statuscake",
    "site24x7",
    "monitis",
    "catchpoint",
    "gomezagent",
    "ruxit",
    "monitoring",
    "chrome-lighthouse",
    "gtmetrix",
    "pagespeed",
    " ptst/",
    "feedly",
    "feedfetcher",
    "feedburner",
    "feedbin",
    "newsblur",
    "inoreader",
    "feedparser",
    "feed aggregat",
    "tiny tiny rss",
    "simplepie",
    "bloglovin",
    "facebookexternalhit",
    "facebookcatalog",
    "whatsapp/",
    "skypeuripreview",
    "embedly",
    "iframely",
    "vkshare",
    "google-inspectiontool",
    "googleother",
    "mediapartners-google",
    "adsbot-google",
    "apis-google",
    "google-pagerenderer",
    "imageproxy",
    "bingpreview",
    "ia_archiver",
    "linkchecker",
    "link sleuth",
    "w3c_validator",
    "httrack",
    # HTTP libraries and command-line clients: scripts, not people; a cookie for them
    # would pollute the holdout, the reports and the training data just the same.
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp/",
    "go-http-client",
    "okhttp/",
    "java-http-client",
    "aws-sdk-",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "httpie/",
)
_BOT_WORD = re.compile(r"(?<!cu)bot\b|bot[/_-]")
# TVs, set-top boxes, casting sticks, consoles, watches, headsets, cars.
_OTHER_TOKENS = (
    "smart-tv",
    "smarttv",
    "hbbtv",
    "crkey",
    "googletv",
    "google tv",
    "android tv",
    "androidtv",
    "appletv",
    "apple tv",
    "bravia",
    "netcast",
    "web0s",
    "inettv",
    "opera tv",
    "ce-html",
    "nettv",
    "viera",
    "dtv_",
    "playstation",
    "xbox",
    "nintendo",
    "watchos",
    "apple watch",
    "smartwatch",
    "oculusbrowser",
    "mobile vr",
    "qtcarbrowser",
    "tesla/",
    "dreambox",
    "steam deck",
    "sonybdp",
)
_OTHER_WORD = re.compile(r"\b(?:tv|tvos|roku|wii|quest|aft[a-z]{1,4})\b")
_OTHER_FAMILIES = frozenset({"Chromecast", "HbbTV", "Apple Watch", "AppleTV", "Nest Hub", "HomePod"})
_OTHER_OS = re.compile(r"^(?:Chromecast|tvOS|ATV OS X|WatchOS|Roku|GoogleTV|FireHbbTV|Web0S|webOS TV)")

# Tablet models and product names, as ua-parser reports them ("family model") or as hints send them.
_TABLET_MODEL = re.compile(
    r"\biPad|Kindle|\bKF[A-Z]{2,6}\b|Galaxy Tab|\bSM-[TPX]\d{3}|\bGT-P\d{4}|\bGT-N[58]\d{3}|"
    r"\bSCH-I(?:800|815|905|915)\b|\bSGH-(?:I987|I957|T849|T859|T869)\b|\bSPH-P100\b|\bSHW-M(?:180|380|480)|"
    r"\bNexus (?:7|9|10)\b|\bPixel (?:C|Tablet)\b|MediaPad|MatePad|Mi ?Pad|\bXoom|\bMZ6\d\d|"
    r"\bTB-[A-Z0-9]{4,}|\bTB\d-|IdeaTab|Yoga ?Tab|\bYT3-|ThinkPad Tablet|Transformer|Eee ?Pad|"
    r"\bAsus (?:TF\d{3}|ME\d{3}|K0[01][A-Z0-9]\b|P0[0-2][0-9A-Z]\b)|Iconia|\bA[13]-[A8]\d{1,2}|\bB1-[A7]\d{1,2}|"
    r"\bSGP\d{3}|Sony Tablet|Xperia Tablet|\bLG-?(?:V[4-9]\d\d|VK\d{3}|UK\d{3})|PlayBook|TouchPad|"
    r"\bTablet\b|\bTab\b|\bTAB[\s_-]?\d|\bNook|\bBNTV|\bAGS\d?-|\bBAH\d?-|\bKOB\d?-|\bBTV-|\bSCM-|\bMRX-|"
    r"[a-z]Pad\b|\bP?MIDC?[-_ ]?\d|\bHTC[ _/]?Flyer|Jetstream|\bSC-01[CDE]\b",
    re.IGNORECASE,
)
# Phone lines whose browsers sometimes leave "Mobile" out (apps, "desktop mode", DuckDuckGo).
_PHONE_MODEL = re.compile(
    r"\bSM-[GNAJSMFE]\d{3}|\bGT-[IS]\d{4}|\bGT-N7\d{3}|\bSGH-[IT]\d{3}|\bSCH-[IR]\d{3}|\bSPH-[DLM]\d{3}|"
    r"\bPixel \d|\bPixel XL|\bNexus (?:One|S|4|5X?|6P?)\b|\bRedmi|\bMI \d|\bXT\d{4}|\bmoto |Xperia|"
    r"\b[CDEFGH]\d{4}\b|\b(?:LT|MT|ST)\d\d[a-z]\b|\bHTC (?:One|Desire|Sensation|Wildfire|Incredible)|\bLG-[DEHPK]\d{3}",
    re.IGNORECASE,
)
_TABLET_FAMILIES = frozenset({"iPad", "Generic Tablet", "Kindle", "Kindle Fire", "Kindle Fire HD"})
_MOBILE_FAMILIES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})
_MOBILE_OS = re.compile(
    r"^(?:Windows Phone|Windows Mobile|Windows CE|Symbian|Nokia Series|BlackBerry OS|Bada|BREW|Brew MP|KaiOS|"
    r"Firefox OS|MeeGo|Maemo|Sailfish|Tizen|webOS|Ubuntu Touch|iOS)"
)
_MOBILE_TOKEN = re.compile(
    r"Mobi|Opera Mini|MIDP|J2ME|UP\.Browser|Obigo|NetFront|IEMobile|Symbian|Series[46]0|Windows CE|Windows ?Phone|"
    r"BlackBerry|\bBB10\b|\bPPC;|\bAdr\b"
)
_HONEYCOMB = re.compile(r"Android 3\.\d")
_GENERIC_BRANDS = frozenset({"", "Generic", "Generic_Android", "Generic_Android_Tablet"})
_DESKTOP_OS = re.compile(
    r"^(?:Windows|Mac OS|Linux|Ubuntu|Debian|Fedora|Red Hat|Gentoo|Mandriva|Slackware|SUSE|Kubuntu|Mint|Arch|"
    r"Chrome OS|Chromium OS|FreeBSD|OpenBSD|NetBSD|BSD|Solaris|SerenityOS)"
)
_BROWSER = re.compile(r"Mozilla/|Opera|Links\b|Lynx|w3m|Mosaic|Internet Explorer")
#: Sec-CH-UA-Platform values of desktop systems.
_DESKTOP_PLATFORMS = frozenset({"Windows", "macOS", "Linux", "Chrome OS", "Chromium OS"})
_SF_STRING = re.compile(r'^"([^"\\]{0,64})"$')


@functools.cache
def _parser() -> ua_parser.Parser:
    # Built on first use (~0.2 s): uap-core's rules, on the fastest resolver installed.
    return ua_parser.Parser(ua_parser.BestAvailableResolver(ua_parser.load_builtins()))


def classify_user_agent(user_agent: str) -> str:
    """The device class a User-Agent string alone says: mobile, tablet, desktop, other or bot."""
    ua = user_agent[:UA_LIMIT]
    if not ua.strip():
        return "other"
    low = ua.lower()
    # "Java/1.8.0" alone is an HTTP client; "Java/HWJa" inside a feature phone's User-Agent is not.
    if any(token in low for token in _BOT_TOKENS) or _BOT_WORD.search(low) or low.startswith("java/"):
        return "bot"
    if any(token in low for token in _OTHER_TOKENS) or _OTHER_WORD.search(low):
        return "other"
    parsed = _parser()(ua, ua_parser.Domain.DEVICE | ua_parser.Domain.OS)
    device, os_ = parsed.device, parsed.os
    family = device.family if device else "Other"
    brand = (device.brand or "") if device else ""
    model = (device.model or "") if device else ""
    os_family = os_.family if os_ else "Other"
    if family == "Spider":
        return "bot"
    if family in _OTHER_FAMILIES or _OTHER_OS.match(os_family):
        return "other"
    if family in _TABLET_FAMILIES or os_family == "BlackBerry Tablet OS" or _TABLET_MODEL.search(f"{family} {model}"):
        return "tablet"
    if family in _MOBILE_FAMILIES:
        return "mobile"
    if os_family in ("Android", "HarmonyOS") or "Android" in ua:
        return "mobile" if _PHONE_MODEL.search(f"{family} {model}") else _android(ua)
    if _MOBILE_OS.match(os_family) or _MOBILE_TOKEN.search(ua):
        return "mobile"
    if os_family == "Windows" and "ARM;" in ua:
        return "tablet"  # Windows RT
    if family.startswith("Mac"):
        return "desktop"
    if brand not in _GENERIC_BRANDS:
        # A phone named by its maker: feature phones (Nokia6230/, MOT-V3) and
        # phone browsers in "desktop mode" (HTC_DesireHD in a Mac OS X string).
        return "mobile"
    if _DESKTOP_OS.match(os_family) and _BROWSER.search(ua):
        return "desktop"  # a browser; HTTP libraries and apps naming the OS (aws-sdk-java ... Linux/4.9) are not
    return "other"


def _android(ua: str) -> str:
    """Android, not a known tablet model: browsers add "Mobile" on phones only.

    Apps' own HTTP clients (Dalvik, okhttp, SDKs) and DuckDuckGo's older Android
    app leave it out on phones too; phones are by far the likelier device there.
    """
    if "Mobile" in ua or "Opera Mini" in ua:
        return "mobile"
    if _HONEYCOMB.search(ua):
        return "tablet"  # Android 3 ran on tablets only
    if "DuckDuckGo/" in ua or not ua.startswith("Mozilla/"):
        return "mobile"
    return "tablet"


class ClientHints(NamedTuple):
    """The ``Sec-CH-UA-*`` headers that matter here, validated; None where absent or malformed."""

    mobile: bool | None = None
    platform: str | None = None
    model: str | None = None

    @classmethod
    def from_headers(cls, mobile: str | None, platform: str | None, model: str | None) -> ClientHints:
        """Read the raw header values: ``?1``/``?0`` and quoted strings; anything else is ignored."""
        flag = {"?1": True, "?0": False}.get((mobile or "").strip())
        return cls(flag, _sf_string(platform), _sf_string(model))


def _sf_string(value: str | None) -> str | None:
    match = _SF_STRING.match((value or "").strip())
    return (match.group(1).strip() or None) if match else None


def classify(ua_class: str, user_agent: str, hints: ClientHints) -> str:
    """The User-Agent's class corrected by the Client Hints the browser sent.

    ``?1`` is a phone; ``?0`` on Android is a tablet (a known tablet model, or a
    User-Agent without "Mobile", unless the model is a known phone); ``?0`` on a
    desktop platform is a desktop.
    Bots stay bots, and a TV or console (``other``) is not made a desktop.
    """
    if ua_class == "bot" or hints.mobile is None:
        return ua_class
    if hints.platform is not None and _contradicts(user_agent[:UA_LIMIT], hints.platform):
        # The User-Agent string was replaced (a device-emulation tool, a browser's "request
        # mobile site"): the hints are the browser's own platform, the string is what is meant.
        return ua_class
    if hints.mobile:
        return "mobile"
    if ua_class == "other":
        return ua_class
    if hints.platform == "Android":
        if hints.model and _TABLET_MODEL.search(hints.model):
            return "tablet"
        if hints.model and _PHONE_MODEL.search(hints.model):
            return "mobile"  # a phone asking for the desktop site
        return "tablet" if "Mobile" not in user_agent[:UA_LIMIT] else ua_class
    if hints.platform in _DESKTOP_PLATFORMS:
        return "desktop"
    return ua_class


#: Which Sec-CH-UA-Platform values a User-Agent's own operating system token agrees with.
_PLATFORM_OF = (
    (re.compile(r"iPhone|iPad|iPod"), ("iOS",)),
    (re.compile(r"Android"), ("Android",)),
    (re.compile(r"Windows"), ("Windows",)),
    (re.compile(r"Macintosh|Mac OS X"), ("macOS", "iOS")),
    (re.compile(r"CrOS"), ("Chrome OS", "ChromeOS")),
    (re.compile(r"Linux|X11"), ("Linux", "Chrome OS", "ChromeOS", "Android")),
)


def _contradicts(user_agent: str, platform: str) -> bool:
    """True when the User-Agent names an operating system that the platform hint is not."""
    for pattern, platforms in _PLATFORM_OF:
        if pattern.search(user_agent):
            return platform not in platforms
    return False


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int  # bytes
    currsize: int  # bytes


class ByteLRU:
    """A thread-safe LRU map from strings to shared values, bounded by memory.

    An entry costs ``sys.getsizeof(key) + ENTRY_OVERHEAD`` bytes: the values are
    a handful of interned strings, so the keys and the map's own bookkeeping
    are what grows.
    """

    #: OrderedDict slot, index and linked-list node per entry: 66-88 bytes measured with tracemalloc
    #: on CPython 3.11, rounded up for table resizes and other versions.
    ENTRY_OVERHEAD = 128

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: str, value: str) -> None:
        cost = self.cost(key)
        if cost > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return
            self._entries[key] = value
            self._bytes += cost
            while self._bytes > self.max_bytes:
                old, _ = self._entries.popitem(last=False)
                self._bytes -= self.cost(old)

    @classmethod
    def cost(cls, key: str) -> int:
        return sys.getsizeof(key) + cls.ENTRY_OVERHEAD

    def __len__(self) -> int:
        return len(self._entries)

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.max_bytes, self._bytes)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = self._hits = self._misses = 0


class CachedClassifier:
    """``classify_user_agent`` behind a ``ByteLRU``; ``cache_info``/``cache_clear`` as functools has them."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.cache = ByteLRU(max_bytes)

    def __call__(self, user_agent: str) -> str:
        key = user_agent[:UA_LIMIT]
        found = self.cache.get(key)
        if found is not None:
            return found
        value = classify_user_agent(key)
        self.cache.put(key, value)
        return value

    def cache_info(self) -> CacheInfo:
        return self.cache.info()

    def cache_clear(self) -> None:
        self.cache.clear()


#: The process-wide, cached User-Agent classifier.
device_class = CachedClassifier()
