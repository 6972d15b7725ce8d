"""Five visitors for tests that seed a site through /sitepulse/collect.

Each has a User-Agent of its own (so a visitor hash of its own), an
Accept-Language and a viewport that makes its device class: v1 and v2 on
desktops, v3 and v4 on phones, v5 on a tablet. ev() and click() make
events with client times one millisecond apart, so that a batch's events
keep their order (they share received_at) and a visit's entry page and
source are those of its first page view. Used by tests/integration/
filters.t and standby.t, which build their batches from these.
"""
import time

from sitepulse import ORIGIN

UA = {
    "v1": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "v2": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "v3": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1",
    "v4": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Mobile Safari/537.36",
    "v5": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1",
}
LANG = {"v1": "de-DE,de;q=0.9", "v2": "fr-FR", "v3": "en-US", "v4": "de", "v5": "fr"}
VW = {"v1": 1280, "v2": 1280, "v3": 390, "v4": 390, "v5": 820}

_clock = [int(time.time() * 1000) - 60000]


def ev(who, kind, path, **kw):
    """An event of visitor who on page path, a millisecond after the last one."""
    _clock[0] += 1
    e = {"type": kind, "url": ORIGIN + path, "vw": VW[who], "ts": _clock[0]}
    e.update(kw)
    return e


def click(who, x, y, **kw):
    """A click of visitor who on /pricing at document position x, y."""
    return ev(who, "click", "/pricing", x=x, y=y, dw=VW[who], dh=3000, vh=800, **kw)
