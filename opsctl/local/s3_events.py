"""S3 EventBridge notifications in the embedded AWS: objects created in a bucket with EventBridge notifications on
emit "Object Created" to the default bus, through ``EventBridgeRouter`` (so rules with Lambda targets, input
transformers and DLQs behave as for any other event).

moto 5.2 keeps a bucket's ``EventBridgeConfiguration`` and, on PutObject, hands the event to its own rules
internally: that skips our router, ignores rule states and stops at the first Lambda target (NotImplementedError,
swallowed). Here, at the public S3 API (path-style requests, as boto3 sends them to an IP endpoint):

- PutBucketNotificationConfiguration: ``EventBridgeConfiguration`` is kept here and removed from what moto stores
  (moto never delivers on its own); GetBucketNotificationConfiguration answers it again;
- PutObject, CopyObject and CompleteMultipartUpload on such a bucket emit "Object Created" shaped as S3 sends it
  (bucket, key, size, etag, version-id, sequencer, reason) once moto has stored the object.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from .awsapi import StartResponse, WsgiApp, call_app, credential_scope, read_body
from .eventbridge_routes import ClientFactory, EventBridgeRouter
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["S3EventBridgeNotifications", "object_created_event"]

_log = logging.getLogger(__name__)
_EVENTBRIDGE = "EventBridgeConfiguration"
# Object sub-resources: a PUT with one of these changes an object's metadata or uploads a part, creating nothing.
_NOT_A_NEW_OBJECT = {"tagging", "acl", "retention", "legal-hold", "uploadId", "partNumber", "restore"}


def object_created_event(*, bucket: str, key: str, size: int, etag: str, version_id: str | None, sequencer: str,
                         reason: str, region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, Any]:
    """The "Object Created" event S3 sends to EventBridge."""
    obj: dict[str, Any] = {"key": key, "size": size, "etag": etag.strip('"'), "sequencer": sequencer}
    if version_id and version_id != "null":
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account_id,
        "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj,
                   "request-id": uuid.uuid4().hex[:16].upper(), "requester": account_id,
                   "source-ip-address": "127.0.0.1", "reason": reason},
    }


class S3EventBridgeNotifications:
    """The middleware (see module doc). ``enabled`` buckets by name -> region."""

    def __init__(self, clients: ClientFactory, router: EventBridgeRouter) -> None:
        self._clients = clients
        self.router = router
        self.enabled: dict[str, str] = {}
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)

    def clear(self) -> None:
        with self._lock:
            self.enabled.clear()

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            method = environ.get("REQUEST_METHOD")
            if method not in ("GET", "PUT", "POST") or environ.get("HTTP_X_AMZ_TARGET"):
                return app(environ, start_response)
            scope = credential_scope(environ)
            if scope.service != "s3":
                return app(environ, start_response)
            bucket, key = _bucket_and_key(environ)
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if bucket and not key and "notification" in query and method in ("GET", "PUT"):
                if method == "PUT":
                    return self._put_notification(app, environ, start_response, bucket, scope.region)
                return self._get_notification(app, environ, start_response, bucket)
            reason = _creation(method, environ, query) if bucket in self.enabled and key else None
            if reason is None:
                return app(environ, start_response)
            response = call_app(app, environ)
            if response.code < 300:
                version = response.header("x-amz-version-id")
                try:
                    # A PutObject's size and ETag are in its request and response; a copy's or upload's are asked.
                    sent = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH")
                    known = (int(sent), response.header("ETag") or "") if reason == "PutObject" and sent else None
                    self._emit(bucket, key, reason, version if version and version != "null" else None, known)
                except Exception:  # noqa: BLE001 - as on AWS, a stored object stays stored whatever its event
                    _log.exception("s3://%s/%s: could not emit Object Created", bucket, key)
            return response.replay(start_response)

        return middleware

    def _put_notification(self, app: WsgiApp, environ: dict[str, Any], start_response: StartResponse, bucket: str,
                          region: str) -> Iterable[bytes]:
        raw = read_body(environ)
        try:
            root = ET.fromstring(raw) if raw.strip() else None
        except ET.ParseError:
            return app(environ, start_response)  # moto answers the malformed document
        found = [child for child in (list(root) if root is not None else [])
                 if child.tag.rsplit("}", 1)[-1] == _EVENTBRIDGE]
        if root is not None and found:
            for child in found:
                root.remove(child)
            namespace = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else None
            body = ET.tostring(root, default_namespace=namespace)  # no ns0: prefixes (moto's parser wants none)
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
            for header in [h for h in environ if h == "HTTP_CONTENT_MD5" or h.startswith("HTTP_X_AMZ_CHECKSUM_")]:
                del environ[header]  # they were of the document as sent
        response = call_app(app, environ)
        if response.code < 300:
            with self._lock:
                if found:
                    self.enabled[bucket] = region
                else:
                    self.enabled.pop(bucket, None)
        return response.replay(start_response)

    def _get_notification(self, app: WsgiApp, environ: dict[str, Any], start_response: StartResponse,
                          bucket: str) -> Iterable[bytes]:
        response = call_app(app, environ)
        if response.code >= 300 or bucket not in self.enabled:
            return response.replay(start_response)
        root = ET.fromstring(response.body)
        namespace = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else None
        ET.SubElement(root, f"{{{namespace}}}{_EVENTBRIDGE}" if namespace else _EVENTBRIDGE)
        body = ET.tostring(root, xml_declaration=True, encoding="UTF-8", default_namespace=namespace)
        return response.replay(start_response, body)

    def _emit(self, bucket: str, key: str, reason: str, version_id: str | None,
              known: tuple[int, str] | None) -> None:
        region = self.enabled[bucket]
        if known is None:
            args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
            head = self._clients("s3", region).head_object(**args)
            known = int(head.get("ContentLength", 0)), str(head.get("ETag", ""))
        size, etag = known
        event = object_created_event(bucket=bucket, key=key, size=size, etag=etag, version_id=version_id,
                                     sequencer=f"{next(self._sequence):016X}", reason=reason, region=region)
        self.router.emit(region, event)


def _bucket_and_key(environ: dict[str, Any]) -> tuple[str, str]:
    """Path-style ``/<bucket>/<key>``; the WSGI path is the URL's decoded bytes as latin-1."""
    path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", errors="replace")
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _creation(method: str | None, environ: dict[str, Any], query: dict[str, Any]) -> str | None:
    """The S3 event reason of a request that creates an object, else None."""
    if method == "PUT" and not _NOT_A_NEW_OBJECT & set(query):
        return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    return None
