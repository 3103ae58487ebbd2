#!/usr/bin/env python3
"""Browser test of vend's web UI with Debian's headless chromium (issue 9).

Starts `vend demo`, drives chromium through the DevTools protocol: log in as a cashier, sell
credit, issue the card, tap it at the (virtual) meter, read it back at the counter, then log in
as an inspector and open the inspection list and the reports. Screenshots go to
artifacts/browser/.
Usage: Tests/Browser/vend_browser_test.py .build/debug/vend
Needs: chromium (Debian), websocket-client (PyPI).
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

VEND = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/vend"
PORT = 18081
DEVTOOLS = 19222
BASE = f"http://127.0.0.1:{PORT}"
ARTIFACTS = os.path.join("artifacts", "browser")


def wait_for(url, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"FAIL: {url} did not answer within {seconds} s")


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"FAIL: {method}: {message['error']}")
                return message.get("result", {})

    def wait_load(self):
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") == "Page.loadEventFired":
                return

    def goto(self, path):
        self.call("Page.navigate", url=BASE + path)
        self.wait_load()

    def run(self, script, navigates=False):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                                 "params": {"expression": script, "returnByValue": True}}))
        result, loaded = None, False
        while result is None or (navigates and not loaded):
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                result = message.get("result", {}).get("result", {}).get("value", "")
            elif message.get("method") == "Page.loadEventFired":
                loaded = True
        return result

    def text(self):
        return self.run("document.body.innerText")

    def submit(self, form_selector, fields):
        assignments = "".join(
            f"f.querySelector('[name={name}]').value = {json.dumps(value)};"
            for name, value in fields.items())
        self.run(f"(() => {{ const f = document.querySelector({json.dumps(form_selector)});"
                 f"{assignments} f.submit(); return 1; }})()", navigates=True)

    def click(self, button_text, nth=0):
        self.run(f"(() => {{ const b = [...document.querySelectorAll('button')]"
                 f".filter(b => b.innerText.trim() === {json.dumps(button_text)})[{nth}];"
                 f" b.click(); return 1; }})()", navigates=True)

    def screenshot(self, name):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path = os.path.join(ARTIFACTS, name + ".png")
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
        print(f"  screenshot {path}")


def expect(condition, what):
    if not condition:
        raise SystemExit(f"FAIL: {what}")
    print(f"  ok: {what}")


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vend-browser-")
    server = subprocess.Popen(
        [VEND, "demo", "--port", str(PORT), "--customers", "200",
         "--database", os.path.join(work, "demo.sqlite")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        wait_for(BASE + "/login")
        browser = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--remote-debugging-port={DEVTOOLS}", f"--user-data-dir={work}/profile",
             "--window-size=1200,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        targets = json.loads(wait_for(f"http://127.0.0.1:{DEVTOOLS}/json"))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])

        print("cashier: log in, sell, issue the card, tap at home, read the card back")
        page.goto("/login")
        page.screenshot("01-login")
        page.submit("form", {"username": "cashier", "password": "demo-cashier"})
        expect("Sell credit" in page.text(), "the cashier sees the counter")
        page.screenshot("02-counter")
        page.submit("form[action='/sell']", {"meter": "1", "amount": "50.00"})
        text = page.text()
        expect("Receipt" in text and "50.00" in text, "the receipt shows 50.00 for meter 1")
        page.screenshot("03-receipt")
        page.goto("/card")
        page.click("Present card at the counter")
        expect("New card issued for meter 1" in page.text(), "a card is issued for meter 1")
        page.screenshot("04-card-issued")
        page.click("Tap at home (25 kWh used)")
        expect("applied purchase(s) 1" in page.text(), "the meter applies purchase 1")
        page.screenshot("05-tapped-at-home")
        page.click("Present card at the counter")
        text = page.text()
        expect("Write-back stored; purchases now applied: 1. It reconciles." in text,
               "the write-back comes home and reconciles")
        expect("credit 45.00, 25.000 kWh" in text, "the counter shows the meter's credit")
        page.screenshot("06-write-back-home")
        page.click("Log out cashier")

        print("inspector: the inspection list")
        page.goto("/login")
        page.submit("form", {"username": "inspector", "password": "demo-inspector"})
        page.goto("/inspection")
        text = page.text()
        expect("Inspection list" in text and "Download CSV" in text, "the list is shown")
        expect("down " in text or "reconciliation" in text, "the list gives its reasons")
        page.screenshot("07-inspection-list")

        print("inspector: the reports, with a chart and a CSV link each")
        page.goto("/reports")
        text = page.text()
        expect("Daily sales" in text and "Debt" in text and "Tamper and other events" in text,
               "the Reports page shows every report")
        charts = page.run("document.querySelectorAll('svg.chart rect').length")
        expect(charts > 0, f"the charts draw bars ({charts})")
        links = page.run("[...document.querySelectorAll('a')]"
                         ".filter(a => a.innerText === 'Download CSV').length")
        expect(links == 4, "each report has its CSV download")
        page.screenshot("08-reports")
        print("PASS")
    finally:
        if browser:
            browser.terminate()
        server.terminate()


if __name__ == "__main__":
    main()
