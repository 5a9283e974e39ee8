"""How the dumps beside this file were made: a database written by Tessera 0.1 (commit bbc74c6,
before migrations existed: its tables came from ``create_all``), with a few visitors in it.

Run from a checkout of that commit:

    python make.py sqlite:////tmp/tessera-0.1.sqlite
    python make.py postgresql+psycopg://postgres@127.0.0.1:5432/landed_fixture

then ``sqlite3``'s ``iterdump`` and ``pg_dump --no-owner --no-privileges --inserts`` gave the
``.sql`` files (pg_dump's comments and session settings left out).
"""

import re
import sys
import uuid

from app import create_app
from app.extensions import db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
PAGES = ["/", "/pricing", "/guides/cookieless-measurement", "/guides/consent-without-dark-patterns", "/"]

app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "fixture", "SCHEDULER": "off",
                  "HOLDOUT_SHARE": 0.5})  # fmt: skip
for _ in range(3):
    client = app.test_client()
    for path in PAGES:
        client.get(path, headers={"User-Agent": IPHONE}, environ_base={"REMOTE_ADDR": "5.9.0.1"})
    events = [
        {"id": str(uuid.uuid4()), "type": "scroll", "page": "/", "depth": 80},
        {"id": str(uuid.uuid4()), "type": "dwell", "page": "/", "ms": 12000},
    ]
    response = client.post(
        "/events", json={"events": events}, headers={"User-Agent": IPHONE, "Origin": "http://localhost"}
    )
    assert response.status_code == 200, response.get_json()
html = client.get("/signup", headers={"User-Agent": IPHONE}).get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
form = {"name": "Ada", "email": "ada@example.com", "company_size": "1-10", "csrf_token": token}
assert client.post("/signup", data=form, headers={"User-Agent": IPHONE}).status_code == 303
with app.app_context():
    from sqlalchemy import text

    for table in ["visitors", "exposures", "events", "topic_interests", "conversions", "signups"]:
        print(table, db.session.execute(text(f"select count(*) from {table}")).scalar())
