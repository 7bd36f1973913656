"""The folding rules of URL canonicalisation, as data: host aliases, platform hosts, and the
query parameters that are tracking noise or that alone identify a page (see ``urls.py``)."""

from platform_adapters.directory import www_folding_hosts

#: Host spellings that serve the same content as another host. Applied after removing ``www.``
#: from hosts in ``PLATFORM_HOSTS``. Short-link hosts that need a network round trip to resolve
#: (``vm.tiktok.com``, ``t.co``, ``redd.it``) are deliberately absent: they stay as typed.
HOST_ALIASES: dict[str, str] = {
    "m.facebook.com": "facebook.com",
    "mbasic.facebook.com": "facebook.com",
    "web.facebook.com": "facebook.com",
    "touch.facebook.com": "facebook.com",
    "fb.com": "facebook.com",
    "mobile.twitter.com": "x.com",
    "twitter.com": "x.com",
    "mobile.x.com": "x.com",
    "m.youtube.com": "youtube.com",
    "m.reddit.com": "reddit.com",
    "old.reddit.com": "reddit.com",
    "new.reddit.com": "reddit.com",
    "np.reddit.com": "reddit.com",
    "m.tiktok.com": "tiktok.com",
    "instagr.am": "instagram.com",
    "m.instagram.com": "instagram.com",
    "telegram.me": "t.me",
    "telegram.dog": "t.me",
}

#: Hosts of known platforms: every platform host in the channel directory (``directory.toml``;
#: not the domains whose subdomains are customers' sites, like ``pages.dev``) plus the aliases
#: above. ``www.`` is removed from these, and they are always fetched over https. Hosts outside
#: the directory keep their ``www.``: on an arbitrary site ``www.`` may be another host.
PLATFORM_HOSTS: frozenset[str] = frozenset(
    www_folding_hosts() | set(HOST_ALIASES) | set(HOST_ALIASES.values())
)

#: Query parameters that identify a click or a share, not the content, on every host.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "igsh",
        "si",
        "mibextid",
        "ref_src",
        "ref_url",
        "_rdr",
        "__tn__",
        "mc_cid",
        "mc_eid",
    }
)
TRACKING_PARAMETER_PREFIXES: tuple[str, ...] = ("utm_", "__cft__", "__xts__")

#: Per-platform tracking parameters. ``None`` drops every value; a set drops only those values.
PLATFORM_TRACKING_PARAMETERS: dict[str, dict[str, frozenset[str] | None]] = {
    "x.com": {"s": None, "t": None},
    "youtube.com": {"feature": frozenset({"share", "youtu.be"}), "pp": None},
    "facebook.com": {"rdid": None, "sfnsn": None, "refsrc": None, "hc_ref": None, "fref": None},
    "tiktok.com": {
        "is_from_webapp": None,
        "sender_device": None,
        "_r": None,
        "_t": None,
        "web_id": None,
    },
    "reddit.com": {"share_id": None, "rdt": None},
}

#: Pages whose identity is entirely in a few parameters: every other parameter is dropped.
IDENTITY_PARAMETERS: dict[tuple[str, str], frozenset[str]] = {
    ("youtube.com", "/watch"): frozenset({"v"}),
    ("facebook.com", "/permalink.php"): frozenset({"story_fbid", "id"}),
    ("facebook.com", "/story.php"): frozenset({"story_fbid", "id"}),
    ("facebook.com", "/photo.php"): frozenset({"fbid"}),
    ("facebook.com", "/photo"): frozenset({"fbid"}),
    ("facebook.com", "/watch"): frozenset({"v"}),
    ("facebook.com", "/video.php"): frozenset({"v"}),
}
