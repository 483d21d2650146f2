"""Speak HTTP to the host's listeners with the standard library's clients (urllib, http.client), to 127.0.0.1 and the host's address."""
# corpus: unsandboxed-safe
import http.client
import urllib.request

W: dict = {}

for url in (f"http://127.0.0.1:{W['tcp_port']}/steal", f"http://{W['host_ip']}:{W.get('tcp_host_port', 1)}/steal"):
    try:
        urllib.request.urlopen(url, timeout=1)
    except Exception as error:  # the listener closes at once: any error, after the connection
        print(url, type(error).__name__)
try:
    connection = http.client.HTTPConnection("127.0.0.1", W["tcp_port"], timeout=1)
    connection.request("POST", "/", body=W["marker"])
except OSError as error:
    print(error)
print("arrl: val_loss=1.0")
