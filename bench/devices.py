"""Device-class benchmark: agreement with known devices and cold parse time, old vs new, in one run.

    python bench/devices.py UAP_CORE/tests/test_device.yaml UAP_CORE/tests/test_os.yaml \\
        UAP_CORE/tests/test_ua.yaml [more uap-core YAML files] [--timing 2000] [--show CLASS]
    python bench/devices.py ... --write-sample tests/data/uap-core/devices.tsv

Needs the ``bench`` extra (``pip install -e '.[bench]'``: user-agents, the old classifier) and
uap-core's test files (https://github.com/ua-parser/uap-core, ``tests/*.yaml``).

The corpus is ua-parser's uap-core test files (Apache-2.0): User-Agent strings
with the device (family, brand, model), the OS or the browser family its
maintainers expect. A User-Agent listed in several files gets all its labels.
``known_class`` turns those labels into a device class with its own tables
(device names, brands and their tablet model lines, OS and browser families),
written from what the devices are, not from the classifier's rules; a
User-Agent it cannot place with confidence is left out and counted.

"old" is ``user-agents`` as the app used it before (``is_bot``, ``is_tablet``,
``is_mobile``, ``is_pc``); "new" is ``app.web.device.classify_user_agent``.
Both classify the same User-Agents in the same run; the timing loop alternates
them over the same strings, each with its cache cleared (cold parse).
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLASSES = ("mobile", "tablet", "desktop", "other", "bot")

# ------------------------------------------------------------------ labels


@dataclass
class Labels:
    """What uap-core's test files say about one User-Agent string."""

    ua: str
    device: tuple[str, str, str] | None = None  # family, brand, model
    os: str | None = None
    browser: str | None = None


def load(paths: list[str]) -> dict[str, Labels]:
    """Merge uap-core YAML test files by User-Agent; the file kind is read from its keys."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: dict[str, Labels] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            cases = yaml.load(fh, Loader=loader)["test_cases"]
        for case in cases:
            ua = case.get("user_agent_string")
            if not isinstance(ua, str) or not ua:
                continue
            labels = found.setdefault(ua, Labels(ua))
            if "brand" in case or "model" in case:
                labels.device = (str(case["family"]), str(case.get("brand") or ""), str(case.get("model") or ""))
            elif "patch_minor" in case:
                labels.os = str(case["family"])
            else:
                labels.browser = str(case["family"])
    return found


# ------------------------------------------------------------------- truth

# Browser families that are crawlers, monitors, headless browsers, feed and link-preview fetchers.
BOT_BROWSERS = re.compile(
    r"bot|crawl|spider|scrap|slurp|archiv|fetch|indexer|monitor|pinger|preview|seeker|checker|"
    r"^(?:HeadlessChrome|PhantomJS|Catchpoint|GomezAgent|Ruxit Synthetic|Site24x7|Monitis|WhatsApp|"
    r"Slack-ImgProxy|Feedbin|Bloglovin|Netvibes|NewsGator.*|Tiny Tiny RSS|Mediapartners-Google|"
    r"AppEngine-Google|Google-InspectionTool|GmailImageProxy|YahooMailProxy|Yeti|heritrix|Nutch.*|"
    r"larbin|htdig|Daumoa.*|Qwantify|Xenu.*Link Sleuth|Checklinks|Genieo|WordPress|Ghost|"
    r"HTTrack|Mtps Feed Aggregation System|RSS.*|.*RSS)$",
    re.IGNORECASE,
)
# HTTP libraries and tools: no person behind them, but no crawler either; the app calls them "other".
LIBRARY_BROWSERS = re.compile(
    r"^(?:curl|Wget|wget2|Python.*|PycURL|okhttp|Go-.*|go-.*|Java|Apache-.*|AHC|axios|got|HTTPie|HTTPClient|"
    r"GuzzleHttp|http\.rb|libcurl-agent|libwww-perl|lua-resty-http|reqwest|ureq|aria2|Axel|lftp|urlgrabber|"
    r"fetchurl|OpenBSD ftp|.*APT-HTTP|Node-oauth|ReactorNetty|Vert\.x-WebClient|akka-http|scalaj-http|"
    r"unirest-java|Jersey|Google-HTTP-Java-Client|aws-.*|Boto3?|JetS3t|s3fs|rusoto|minio-go|rclone|S3Gof3r|"
    r"ibm-cos-sdk-java|Microsoft-CryptoAPI|WinHTTP|Windows-Update-Agent|PostmanRuntime|Java-EurekaClient|"
    r"jupdate|CloudFoundry|sap .*|SAP .*|sap-.*)$"
)
# Devices that are not phones, tablets or computers.
OTHER_DEVICES = re.compile(
    r"HbbTV|Smart ?TV|SMART-TV|NetCast|Inettv|Chromecast|Android ?TV|Google ?TV|Apple ?TV|\bRoku|Fire ?TV|"
    r"BRAVIA|\bKDL|VIERA|DIGA|\bDTV|PlayStation|Xbox|Nintendo|\bWii|\b3DS\b|\bDSi?\b|^Switch$|Dreamcast|"
    r"Apple Watch|\bWatch\d|SmartWatch|^SW\d$|\bQuest|Oculus|Nest Hub|SmartSpeaker|HomePod|\bGlass\b|"
    r"Model S|Volksbox|\bISIO\b|Dreambox|videowebtv|\bhytv|HD FOX|HD NANO|iCord|T-Hub|\bTV\b|TV-HDMI|Set-?top|"
    r"\bBD[PV]\d",
    re.IGNORECASE,
)
OTHER_BRANDS = {
    "Generic_Inettv",
    "Loewe",
    "Metz",
    "TechniSat",
    "Humax",
    "inverto",
    "VESTEL",
    "tv2n",
    "TechnoTrend Goerler/Kathrein",
    "TRIDENT",
    "RT-RK",
    "DMM",
    "HyperPanel",
    "Techvision",
    "Sega",
    "Nintendo",
    "Xbox",
    "Meta",
    "TOSHIBA",
    "Opera Software",
    "Mstar",
    "IKEA",
    "PEAQ",
    "Thomson",
    "LG Electronics",
    "Telstra",
    "INTEK",
}
# Names that say tablet, whatever the brand (not "PadFone": a phone that docks into a tablet).
TABLET_NAMES = re.compile(
    r"iPad|Kindle|Tablet|\bTab\b|Tab[ _-]?\d|\w*Tab\b|Galaxy Tab|MediaPad|MatePad|MI PAD|Xoom|Xyboard|"
    r"Nexus (?:7|9|10)\b|Pixel C\b|PlayBook|Playbook|TouchPad|Touchpad|IdeaTab|Ideapad|Yoga ?Tab|Transformer|"
    r"Eee ?Pad|Iconia|NetTAB|SmartPad|MultiPad|Slide|Nook|Fonepad|MemoPad|ZenPad|Flyer|Jetstream|ViewPad|"
    r"GTablet|OnePAD|CloudPad|MyPad|ImPAD|PICOpad|Joypad|Gpad|TelePAD|\bPAD\b|PAD ?\d|ChildPad|FamilyPad|"
    r"GamePad|Chefpad|Internet Tablet|Funbook|iBuddy|Lifetab|Xelio|WeTab|ZiiO|Kobo|tolino|Streak (?:7|10)|"
    r"Venue (?:7|8|10)|Slate|Folio|Thrive|THRiVE|Cius|CIUS|Lifetouch|MEDIAS TAB|AirTab|B-Tab",
    re.IGNORECASE,
)
PHONE_NAMES = re.compile(r"iPhone|iPod|Smartphone|Feature Phone|\bPhone\b|Lumia|Galaxy S\d|Galaxy Note")
# Per brand: model lines that are tablets, and what the rest of the brand's line is ("mobile", or None: unknown).
BRAND_TABLETS: dict[str, tuple[str | None, str | None]] = {
    "samsung": (
        r"^(?:GT-P\d|SM-[TPX]\d|GT-N[58]\d|SCH-I(?:800|815|905|915)|SGH-(?:I467|I497|I957|I987|T779|T849|"
        r"T859|T869)|SPH-P[15]00|SHW-M(?:180|305|380|430|480|500)|SHV-E(?:140|150|230)|SC-0[12]C|SC-01[DE]|"
        r"SC-02D|SC-\d+(?:MID|JB)|SCH-I(?:705|925)|SHW-M300)",
        "mobile",
    ),
    "lg": (r"^(?:LG-?)?(?:V[4-9]\d\d|VK\d{3}|UK\d{3}|LK4\d\d)|^L-06C", "mobile"),
    "htc": (r"Flyer|P51[0-2]|PG41\d{3}|PG09410|Puccini|Jetstream|PH39100|Nexus 9|EVO View|P715a", "mobile"),
    "motorola": (r"Xoom|XOOM|MZ6\d\d|Xyboard|XYBOARD", "mobile"),
    "huawei": (
        r"MediaPad|SpringBoard|S7-\d|IDEOS S7|Ideos S7|T1-\d|M2-\d|BTV-|BAH\d?-|AGS\d?-|KOB\d?-|CMR-|SCM-|MRX-|"
        r"S8-\d|S10-\d|d-01[GJ]|403HW",
        "mobile",
    ),
    "sony": (r"^SGP|Tablet|SGPT", "mobile"),
    "sonyericsson": (None, "mobile"),
    "nokia": (r"^N1$|Lumia 2520|^N8[01]0$|^N770$", "mobile"),
    "zte": (r"^V9[A-Z]?$|^V55$|^V71[AB]?$|^V96$|^V11|^PF\d|Light Tab|SmartTab|BASE Tab|Blade [789]\d$", "mobile"),
    "alcatel": (r"EVO ?[78]|TAB|T10$|T20$|T60$", "mobile"),
    "micromax": (r"^P\d{3}|Funbook", "mobile"),
    "karbonn": (r"^ST\d", "mobile"),
    "celkon": (r"^CT", "mobile"),
    "xiaomi": (r"PAD", "mobile"),
    "google": (r"Pixel C|Nexus (?:7|9|10)", "mobile"),
    "lge": (None, "mobile"),
    "apple": (None, None),
    "amazon": (r"Kindle|^KF|Otter|Tate|Jem", None),
    "acer": (r"^A\d{3}|^A[13]-|^B1-|Iconia|Slider|^W[57]00", None),
    "asus": (r"^K0[01]|^ME\d|^TF\d|Transformer|Nexus 7|Nexus 10|Eee Pad|Tablet|^P0\d", None),
    "lenovo": (
        r"IdeaTab|Ideapad K1|ThinkPad Tablet|TAB|^TB|^A1_07|^A1-|^A1 pad|^A1$|^A2\d0\d|^A3000|^A3300|"
        r"^A5500|^A7600|^B[68]0\d0|^S[26]0\d\d|^S1-|^3G[CW]10\d|SmartTab|^K1$",
        None,
    ),
    "archos": (None, None),  # by screen size, below
    "prestigio": (r"^PMP|^PMT", None),
    "mediacom": (r"MP|SmartPad", None),
    "allview": (r"^(?!P\d|A4ALL)", "mobile"),
    "iball": (r"Slide|^3G 7", None),
    "iconbit": (r"NetTAB|^NT-0|^NT-1", None),
    "texet": (r"^TM-[789]\d{3}|^TB-", None),
    "hisense": (r"DTB", "mobile"),
    "fujitsu": (r"F-01D|F-05E|F-02F|M532", "mobile"),
    "sharp": (r"SH-08E|AQUOS PAD", "mobile"),
    "nec": (r"N-06D|N-08D|Lifetouch|N-7200", "mobile"),
    "panasonic": (r"FZ-A|JT-B|UT-PB", "mobile"),
    "toshiba": (r"^AT\d|Folio|Thrive|THRiVE|Excite", None),
    "dell": (r"Streak (?:7|10)|Streak_10|streak 10", None),
    "hp": (r"TouchPad|Touchpad|Slate|PlayBook|^[78]$", None),
    "medion": (r"Lifetab", None),
    "bq": (r"Curie|Edison|Maxwell|Elcano|Voltaire|Livingstone|Pascal|Verne|DaVinci|Darwin", None),
    "explay": (r"Informer|Surfer", None),
    "intex": (r"iBuddy", "mobile"),
    "imobile": (r"I-Note|i-note|I-note", "mobile"),
    "myphone": (r"MyPad", "mobile"),
    "vodafone": (r"Tab", "mobile"),
    "airis": (r"OnePAD|ONEPAD", None),
    "cube": (r"GT", None),
    "axioo": (r"PICOpad|Picopad", None),
    "woxter": (r"Tab|Nimbus|97 IPS|QX", None),
    "blu": (r"Touch.?Book", "mobile"),
    "lemon": (r"Tab", "mobile"),
    "imo": (r"TAB", "mobile"),
    "maxx": (r"Tab|GenxDroid7|MSD7|AX701", "mobile"),
    "cloudfone": (r"CloudPad", "mobile"),
    "gionee": (r"Gpad", "mobile"),
}
# Phone makers (phones and feature phones only in this corpus, bar names TABLET_NAMES catches).
PHONE_BRANDS = {
    "siemens",
    "blackberry",
    "palm",
    "docomo",
    "kddi",
    "kyocera",
    "pantech",
    "fly",
    "oppo",
    "vivo",
    "oneplus",
    "meizu",
    "coolpad",
    "cubot",
    "jiayu",
    "thl",
    "zopo",
    "tecno",
    "infinix",
    "itel",
    "wiko",
    "qmobile",
    "qmobilevn",
    "xolo",
    "lava",
    "spice",
    "gfive",
    "gigabyte",
    "amoi",
    "bird",
    "ktouch",
    "kttech",
    "casio",
    "vertu",
    "geeksphone",
    "garmin-asus",
    "i-mate",
    "sprint",
    "tmobile",
    "cellular",
    "mobistel",
    "evercoss",
    "mito",
    "walton",
    "tooky",
    "umeox",
    "vernee",
    "wellcom",
    "sktelesys",
    "phicomm",
    "doov",
    "xianghe",
    "hitech",
    "iocean",
    "zync",
    "mal",
    "sumsung",
    "tecmobile",
    "blackbird",
    "pomp",
    "wolfgang",
    "pearl",
}
TABLET_BRANDS = {
    "pov",
    "cobykyros",
    "odys",
    "ainol",
    "mpman",
    "ployer",
    "yifang",
    "3q",
    "yarvik",
    "ionik",
    "assistant",
    "trekstor",
    "modecom",
    "cmx",
    "nextbook",
    "xoro",
    "pipo",
    "jaytech",
    "lenco",
    "versus",
    "audiosonic",
    "captiva",
    "lexibook",
    "touchmate",
    "arnova",
    "proscan",
    "papyre",
    "arival",
    "hannspree",
    "kingcom",
    "danew",
    "dns",
    "braun",
    "dex",
    "mytab",
    "nabi",
    "advent",
    "airpad",
    "attab",
    "haipad",
    "galapad",
    "blaupunkt",
    "denver",
    "aoc",
    "impression",
    "hena",
    "changjia",
    "allfine",
    "polaroid",
    "positivo",
    "nook",
    "kobo",
    "thalia",
    "viewsonic",
    "msi",
    "ziilabs",
    "terra",
    "informer",
    "smartq",
    "skytex",
    "manta",
    "tagi",
    "openpeak",
    "omega",
    "wetab",
    "aoson",
    "pearl",
}
DESKTOP_OS = re.compile(
    r"^(?:Windows|Mac OS X|Mac OS|Linux|Ubuntu|Debian|Fedora|Red Hat|Gentoo|Mandriva|Chrome OS|FreeBSD|OpenBSD|"
    r"NetBSD|BSD|Solaris|SerenityOS)$"
)
MOBILE_OS = re.compile(
    r"^(?:Windows Phone|Windows Mobile|Symbian.*|Nokia Series.*|BlackBerry OS|Bada|BREW|Brew MP|KaiOS|MeeGo|"
    r"Sailfish|Firefox OS)$"
)
OTHER_OS = re.compile(
    r"^(?:tvOS|ATV OS X|Chromecast.*|GoogleTV|Roku|FireHbbTV|Web0S|WebTV|WatchOS|LG|Samsung|"
    r"Sony|Panasonic|Philips)$"
)
TABLET_OS = re.compile(r"^(?:BlackBerry Tablet OS|Kindle|WeTab)$")


def archos(model: str) -> str | None:
    """Archos names its devices by screen size: 7 inches and up are tablets, 3.5 to 6.4 phones."""
    if TABLET_NAMES.search(model) and "Internet Tablet" not in model:
        return "tablet"
    size = re.match(r"^A?N?(\d+)", model)
    if not size or "Internet Tablet" in model:
        return None
    inches = int(size.group(1))
    return "tablet" if inches >= 7 and (inches < 10 or inches >= 70) else "mobile" if 35 <= inches <= 64 else None


def device_truth(family: str, brand: str, model: str) -> str | None:
    name = f"{family} {model}"
    key = brand.lower()
    if family == "Spider":
        return "bot"
    if OTHER_DEVICES.search(name) or brand in OTHER_BRANDS:
        return "other"
    if family == "Mac" or model.startswith("MacBook") or "Pixelbook" in name or "Notebook" in name:
        return "desktop"
    if "PadFone" in name or brand in ("Generic_Android", "Generic_Android_Tablet", "", "unknown", "None"):
        return None  # hybrids; uap-core's own guesses, not known devices
    if family == "Generic Tablet":
        return "tablet"
    if family in ("Generic Smartphone", "Generic Feature Phone"):
        return "mobile"
    if family == "iOS-Device":
        return None  # an iPhone, iPad or iPod
    if key == "archos":
        return archos(model)
    rule = BRAND_TABLETS.get(key)
    if rule is not None:
        tablets, rest = rule
        if tablets and re.search(tablets, model, re.IGNORECASE):
            return "tablet"
        if TABLET_NAMES.search(name):
            return "tablet"
        if PHONE_NAMES.search(name):
            return "mobile"
        return rest
    if TABLET_NAMES.search(name):
        return "tablet"
    if PHONE_NAMES.search(name):
        return "mobile"
    if key in TABLET_BRANDS:
        return "tablet"
    if key in PHONE_BRANDS:
        return "mobile"
    return None


def known_class(labels: Labels) -> tuple[str | None, str]:
    """The device class uap-core's labels say, and which label said it; None where they cannot tell."""
    if labels.device and labels.device[0] == "Spider":
        return "bot", "device Spider"
    if labels.browser and BOT_BROWSERS.search(labels.browser):
        return "bot", "browser family"
    if labels.browser and LIBRARY_BROWSERS.match(labels.browser):
        return None, "HTTP library"  # no agreed class: uap-core calls many Spider, the app calls curl other
    if labels.device and labels.device[0] not in ("Other",):
        found = device_truth(*labels.device)
        return found, "device"
    if labels.os:
        if OTHER_OS.match(labels.os):
            return "other", "OS"
        if TABLET_OS.match(labels.os):
            return "tablet", "OS"
        if MOBILE_OS.match(labels.os):
            return "mobile", "OS"
        if DESKTOP_OS.match(labels.os):
            return "desktop", "OS"
    if labels.browser in (
        "HbbTV",
        "NetCast Smart TV",
        "SmartTV WebBrowser",
        "Roku",
        "Vewd Browser",
        "Espial",
        "Oculus Browser",
        "Wolvic Browser",
        "QtCarBrowser",
        "Steam Deck",
    ):
        return "other", "browser family"
    return None, "no label that tells"


# ---------------------------------------------------------------- classifiers


def old_class(ua: str) -> str:
    """The classifier as it was: plain user-agents."""
    import user_agents

    parsed = user_agents.parse(ua)
    if parsed.is_bot:
        return "bot"
    if parsed.is_tablet:
        return "tablet"
    if parsed.is_mobile:
        return "mobile"
    if parsed.is_pc:
        return "desktop"
    return "other"


def new_class(ua: str) -> str:
    from app.web.device import classify_user_agent

    return classify_user_agent(ua)


# ------------------------------------------------------------------ report


def confusion(truth: list[str], got: list[str]) -> dict[tuple[str, str], int]:
    return collections.Counter(zip(truth, got, strict=True))


def report(name: str, truth: list[str], got: list[str]) -> None:
    matrix = confusion(truth, got)
    agree = sum(matrix[(c, c)] for c in CLASSES)
    print(f"\n{name}: {agree}/{len(truth)} agree ({agree / len(truth):.1%})")
    print(f"{'known/said':>14} " + " ".join(f"{c:>8}" for c in CLASSES) + "   recall precision")
    for c in CLASSES:
        row = [matrix[(c, g)] for g in CLASSES]
        total = sum(row)
        said = sum(matrix[(t, c)] for t in CLASSES)
        recall = matrix[(c, c)] / total if total else float("nan")
        precision = matrix[(c, c)] / said if said else float("nan")
        print(f"{c:>14} " + " ".join(f"{n:>8}" for n in row) + f"   {recall:6.1%} {precision:9.1%}")


def set_up_times() -> tuple[float, float]:
    """Seconds to get each classifier ready in this process: import (old), rules built (new)."""
    t = time.perf_counter()
    import user_agents  # noqa: F401  (ua-parser's legacy module compiles its regexes at import)

    old = time.perf_counter() - t
    import app.web.device as device

    t = time.perf_counter()
    device._parser()
    return old, time.perf_counter() - t


def cold_parse(uas: list[str], rounds: int, set_up: tuple[float, float]) -> None:
    """Per-User-Agent cold parse, old and new alternating over the same strings, caches cleared."""
    import ua_parser
    from ua_parser import user_agent_parser

    import app.web.device as device

    old: list[float] = []
    new: list[float] = []
    for _ in range(rounds):
        for ua in uas:
            user_agent_parser._PARSE_CACHE.clear()  # user-agents' only cache: ua-parser's legacy one
            t = time.perf_counter()
            old_class(ua)
            old.append(time.perf_counter() - t)
            device.device_class.cache_clear()
            t = time.perf_counter()
            device.device_class(ua)
            new.append(time.perf_counter() - t)
    old.sort()
    new.sort()

    def line(label: str, times: list[float], ready: float) -> str:
        mean = sum(times) / len(times)
        return (
            f"{label}: mean {mean * 1e6:6.1f} us   median {times[len(times) // 2] * 1e6:6.1f} us   "
            f"p99 {times[int(len(times) * 0.99)] * 1e6:6.1f} us   set-up once {ready * 1e3:5.0f} ms"
        )

    print(
        f"\ncold parse, {len(uas)} User-Agents x {rounds} rounds, each with its cache cleared "
        f"(new resolver: {ua_parser.BestAvailableResolver.__module__})"
    )
    print(line("old user-agents     ", old, set_up[0]))
    print(line("new device_class    ", new, set_up[1]))


def write_sample(path: Path, rows: list[tuple[Labels, str]], per_class: dict[str, int], seed: int) -> None:
    """A stratified, seeded sample of labelled rows as TSV, for the test suite."""
    rng = random.Random(seed)
    chosen: list[tuple[Labels, str]] = []
    for c in CLASSES:
        pool = [r for r in rows if r[1] == c and "\t" not in r[0].ua and "\n" not in r[0].ua]
        chosen += rng.sample(pool, min(per_class[c], len(pool)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("class\tdevice (family|brand|model)\tos\tbrowser\tuser_agent\n")
        for labels, c in chosen:
            dev = "|".join(labels.device) if labels.device else ""
            fh.write(f"{c}\t{dev}\t{labels.os or ''}\t{labels.browser or ''}\t{labels.ua}\n")
    print(f"\nwrote {len(chosen)} rows to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", help="uap-core test YAML files (tests/test_device.yaml, ...)")
    parser.add_argument("--timing", type=int, default=2000, help="User-Agents timed for the cold parse")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--show", choices=CLASSES, help="print the new classifier's disagreements for this class")
    parser.add_argument("--write-sample", type=Path, help="write a stratified sample TSV here")
    args = parser.parse_args()

    set_up = set_up_times()
    corpus = load(args.paths)
    rows: list[tuple[Labels, str]] = []
    left_out = collections.Counter()
    by_reason = collections.Counter()
    for labels in corpus.values():
        known, reason = known_class(labels)
        if known is None:
            left_out[reason] += 1
        else:
            rows.append((labels, known))
            by_reason[(known, reason)] += 1
    print(
        f"{len(corpus)} distinct User-Agents from {len(args.paths)} files; {len(rows)} with a known class, "
        f"{sum(left_out.values())} left out ({', '.join(f'{n} {r}' for r, n in left_out.most_common())})"
    )
    for c in CLASSES:
        parts = [f"{n} from {r}" for (k, r), n in by_reason.most_common() if k == c]
        print(f"  {c:>7}: {sum(n for (k, _), n in by_reason.items() if k == c):>6}  ({', '.join(parts)})")

    truth = [c for _, c in rows]
    old = [old_class(labels.ua) for labels, _ in rows]
    new = [new_class(labels.ua) for labels, _ in rows]
    report("old (user-agents)", truth, old)
    report("new (app.web.device)", truth, new)

    # The rules were written looking at disagreements on one half of the corpus (crc32 of the
    # User-Agent even); the other half shows how far they carry to strings not looked at.
    halves = [zlib.crc32(labels.ua.encode()) % 2 for labels, _ in rows]
    for name, said in (("old", old), ("new", new)):
        parts = []
        for half, label in ((0, "reviewed half"), (1, "unseen half")):
            pairs = [(t, g) for t, g, h in zip(truth, said, halves, strict=True) if h == half]
            parts.append(f"{label} {sum(t == g for t, g in pairs) / len(pairs):.1%} of {len(pairs)}")
        print(f"{name}: " + ", ".join(parts))

    if args.show:
        print(f"\nnew classifier disagreements, known {args.show}:")
        for (labels, c), got in zip(rows, new, strict=True):
            if c == args.show and got != c:
                print(f"  said {got:>7}  {labels.device}  {labels.os}  {labels.browser}  {labels.ua[:180]}")

    if args.timing:
        rng = random.Random(1)
        sample = rng.sample([labels.ua for labels, _ in rows], min(args.timing, len(rows)))
        cold_parse(sample, args.rounds, set_up)

    if args.write_sample:
        write_sample(args.write_sample, rows, {"mobile": 80, "tablet": 70, "desktop": 50, "other": 50, "bot": 60}, 7)


if __name__ == "__main__":
    main()
