"""What a site owner pastes to send a source's events here, one text per SDK (the sources page).

Each was tried: the tag and the browser SDKs in Chromium (tests/browser_sdk), the server SDKs
end to end (tests/mqlapp/test_sdks.py). docs/ingestion.md explains each setting.
"""

import json
from urllib.parse import urlsplit

# Calls made before mql.js has loaded are queued, so inline code may call window.mql.track()
# at any time: mql.js replays the queue when it loads (SPEC §3).
TAG_STUB = (
    "window.mql=window.mql||[];"
    '["track","page","identify","reset"].forEach(function(m){'
    "window.mql[m]=window.mql[m]||function(){"
    "window.mql.push([m].concat(Array.prototype.slice.call(arguments)))}});"
)


def tracking_tag(base: str, script_path: str, write_key: str) -> str:
    return (
        f"<script>{TAG_STUB}</script>\n"
        f'<script async src="{base}{script_path}" data-write-key="{write_key}"></script>'
    )


def sdk_snippets(base: str, script_path: str, write_key: str) -> dict[str, str]:
    """{"tag", "segment_snippet", "segment_npm", "rudderstack", "server"} for this app's URL."""
    parts = urlsplit(base)
    api_host = f"{parts.netloc}/v1"
    protocol = parts.scheme or "https"
    key = json.dumps(write_key)
    segment_io = json.dumps(
        {"integrations": {"Segment.io": {"apiHost": api_host, "protocol": protocol}}}
    )
    return {
        "tag": tracking_tag(base, script_path, write_key),
        # Segment's snippet: its settings come from `_cdn`; its script is your own copy of
        # analytics-next's dist/umd/standalone.js (this app does not serve the library).
        "segment_snippet": (
            f"analytics._writeKey = {key};\n"
            f"analytics._cdn = {json.dumps(base)};\n"
            f"analytics.load({key}, {segment_io});"
        ),
        "segment_npm": (
            f"AnalyticsBrowser.load(\n"
            f"  {{ writeKey: {key}, cdnURL: {json.dumps(base)} }},\n"
            f"  {segment_io}\n)"
        ),
        "rudderstack": (
            f"rudderanalytics.load({key}, {json.dumps(base)}, {{ configUrl: {json.dumps(base)} }});"
        ),
        "server": (
            f"host / dataPlaneUrl: {base}\n"
            f"write key: {write_key}\n"
            f"# segment-analytics-python: analytics.write_key = {key}; analytics.host = "
            f"{json.dumps(base)}\n"
            f"# rudder-sdk-python: rudder_analytics.write_key = {key}; "
            f"rudder_analytics.dataPlaneUrl = {json.dumps(base)}"
        ),
    }
