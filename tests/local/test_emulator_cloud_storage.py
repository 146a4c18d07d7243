"""Amazon S3 as a file-based source of the local AEP emulator (local/emulator/cloud_storage.py): explore
reads the real objects of the local S3 (moto, in this process) as explore/cloud-storage.md says, an
"IAMRole Based" connection reads only what the bucket policy grants Adobe's role, configs answers that
role, source connections are held to collect/cloud-storage.md, and CloudStorageToAEP takes the flow."""

import bz2
import gzip
import io
import json
import tarfile
import time
import zipfile

import boto3
import pytest
import requests
from moto import mock_aws

from local.emulator.cloud_storage import ADOBE_IAM_ROLE
from local.stack import emulator_running
from tests.emulator_http import aep_headers, flow_service

T = 5
SECRET = "cloud-storage-secret"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
CLOUD_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
CRM_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
DATASET = "5c8c3c555033b814b69f947f"  # preloaded, with its schema
SCHEMA = "https://ns.adobe.com/acme/schemas/417a33eg81a221bd10495920574gfa2d"
CSV = b"Id,FirstName,Email\n12345,Richard,rsmith@abc.com\n67890,Morgan,morgan@bac.com\n"


@pytest.fixture(scope="module")
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="acme-files")
        client.put_object(Bucket="acme-files", Key="campaign/account.csv", Body=CSV)
        client.put_object(Bucket="acme-files", Key="campaign/2024/old.csv", Body=CSV)
        yield client


@pytest.fixture(scope="module")
def fs(s3):
    with emulator_running(client_secret=SECRET, object_store=lambda: s3) as emu:
        call = flow_service(emu, SECRET)
        call.emu = emu
        yield call


def code(r):
    return r.json()["type"].rsplit("/", 1)[1]


def connection(fs, auth_name, params):
    r = fs("POST", "/connections", json={"name": "s3", "connectionSpec": {"id": S3, "version": "1.0"},
                                         "auth": {"specName": auth_name, "params": params}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def keys(fs, **narrowed):
    return connection(fs, "Access Key", {"s3AccessKey": "AKIALOCAL", "s3SecretKey": "local-secret", **narrowed})


def explore(fs, cid, **query):
    return fs("GET", f"/connections/{cid}/explore", params=query)


def preview(fs, cid, path, **options):
    return explore(fs, cid, objectType="file", object=path, preview="true", **options)


def test_a_bucket_is_explored_and_a_csv_previewed_from_its_bytes(fs, s3):
    cid = keys(fs)
    root = explore(fs, cid, objectType="root").json()
    assert {"type": "folder", "name": "acme-files", "path": "/acme-files/", "canPreview": False,
            "canFetchSchema": False} in root
    assert explore(fs, cid, objectType="folder", object="/acme-files/").json() == [
        {"type": "folder", "name": "campaign", "path": "/acme-files/campaign/", "canPreview": False,
         "canFetchSchema": False}]
    assert explore(fs, cid, objectType="folder", object="/acme-files/campaign").json() == [
        {"type": "folder", "name": "2024", "path": "/acme-files/campaign/2024/", "canPreview": False,
         "canFetchSchema": False},
        {"type": "file", "name": "account.csv", "path": "/acme-files/campaign/account.csv", "canPreview": True,
         "canFetchSchema": True}]
    answer = preview(fs, cid, "/acme-files/campaign/account.csv", fileType="delimited").json()
    assert answer == {"format": "flat", "schema": {"columns": [
        {"name": n, "type": "string", "xdm": {"type": "string"}} for n in ("Id", "FirstName", "Email")]},
        "data": [{"Id": "12345", "FirstName": "Richard", "Email": "rsmith@abc.com"},
                 {"Id": "67890", "FirstName": "Morgan", "Email": "morgan@bac.com"}]}
    s3.put_object(Bucket="acme-files", Key="campaign/account.csv", Body=b"Id,Tier\n7,gold\n")
    structure = explore(fs, cid, objectType="file", object="/acme-files/campaign/account.csv", fileType="DELIMITED")
    assert structure.json() == {"format": "flat", "schema": {"columns": [
        {"name": "Id", "type": "string", "xdm": {"type": "string"}},
        {"name": "Tier", "type": "string", "xdm": {"type": "string"}}]}}
    s3.put_object(Bucket="acme-files", Key="campaign/account.csv", Body=CSV)
    # A connection narrowed by bucketName and folderPath starts there, and reaches nothing outside.
    narrow = keys(fs, bucketName="acme-files", folderPath="campaign/2024")
    assert [i["path"] for i in explore(fs, narrow, objectType="root").json()] == ["/acme-files/campaign/2024/"]
    assert [i["name"] for i in explore(fs, narrow, objectType="folder", object="root").json()] == ["old.csv"]
    outside = preview(fs, narrow, "/acme-files/campaign/account.csv", fileType="delimited")
    assert outside.status_code == 400 and code(outside) == "FLOW-1437-400"


def test_compressed_latin_1_files_with_another_delimiter_and_json_lines(fs, s3):
    cid = keys(fs)
    latin = "Id;Name\n1;Zoë\n2;Søren\n".encode("latin-1")
    s3.put_object(Bucket="acme-files", Key="in/latin.csv.gz", Body=gzip.compress(latin))
    r = preview(fs, cid, "/acme-files/in/latin.csv.gz", fileType="delimited", compressionType="gzip",
                columnDelimiter=";", encoding="ISO-8859-1")
    assert r.status_code == 200 and r.json()["data"] == [{"Id": "1", "Name": "Zoë"}, {"Id": "2", "Name": "Søren"}]
    r = preview(fs, cid, "/acme-files/in/latin.csv.gz", fileType="delimited", compressionType="gzip",
                columnDelimiter=";")
    assert r.status_code == 400 and code(r) == "FLOW-1435-400" and "UTF-8" in r.json()["errorMessage"]
    r = preview(fs, cid, "/acme-files/in/latin.csv.gz", fileType="delimited", compressionType="bzip2")
    assert r.status_code == 400 and "bzip2" in r.json()["errorMessage"]
    archives = {"data.csv.bz2": ("bzip2", bz2.compress(CSV))}
    zipped, tarred = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("account.csv", CSV)
    with tarfile.open(fileobj=tarred, mode="w:gz") as t:
        info = tarfile.TarInfo("account.csv")
        info.size = len(CSV)
        t.addfile(info, io.BytesIO(CSV))
    archives |= {"data.zip": ("zipDeflate", zipped.getvalue()), "data.tgz": ("tarGzip", tarred.getvalue())}
    for name, (compression, body) in archives.items():
        s3.put_object(Bucket="acme-files", Key=f"in/{name}", Body=body)
        r = preview(fs, cid, f"/acme-files/in/{name}", fileType="delimited", compressionType=compression)
        assert [row["Id"] for row in r.json()["data"]] == ["12345", "67890"], (name, r.text)
    lines = [{"id": 1, "email": "a@acme.example", "score": 1.5, "vip": True, "address": {"city": "Oslo"}},
             {"id": 2, "email": "b@acme.example", "score": 2, "vip": False, "address": {"city": "Rome"}}]
    s3.put_object(Bucket="acme-files", Key="in/events.jsonl", Body="\n".join(map(json.dumps, lines)).encode())
    r = preview(fs, cid, "/acme-files/in/events.jsonl", fileType="json")
    assert r.status_code == 200, r.text
    types = {c["name"]: (c["type"], c["xdm"]["type"]) for c in r.json()["schema"]["columns"]}
    assert types == {"id": ("long", "integer"), "email": ("string", "string"), "score": ("double", "number"),
                     "vip": ("boolean", "boolean"), "address": ("object", "object")}
    assert r.json()["data"] == lines


def test_what_aep_refuses_is_refused(fs, s3):
    cid = keys(fs)
    path = "/acme-files/campaign/account.csv"
    for options, why in [({}, "fileType is required"), ({"fileType": "xml"}, "fileType 'xml'"),
                         ({"fileType": "delimited", "columnDelimiter": ";;"}, "single character"),
                         ({"fileType": "json", "encoding": "UTF-8"}, "encoding is for delimited"),
                         ({"fileType": "json", "columnDelimiter": ";"}, "columnDelimiter is for delimited"),
                         ({"fileType": "parquet", "compressionType": "gzip"}, "not parquet"),
                         ({"fileType": "delimited", "compressionType": "zip"}, "'zip' is not one of"),
                         ({"fileType": "delimited", "encoding": "UTF-16"}, "'UTF-16' is not one of")]:
        r = preview(fs, cid, path, **options)
        assert (r.status_code, code(r)) == (400, "FLOW-1434-400") and why in r.json()["errorMessage"], options
    r = preview(fs, cid, "/acme-files/campaign/missing.csv", fileType="delimited")
    assert r.status_code == 404 and code(r) == "FLOW-1420-404"
    assert explore(fs, cid, objectType="folder", object="/no-such-bucket/").status_code == 404
    assert code(preview(fs, cid, "acme-files/campaign/account.csv", fileType="delimited")) == "FLOW-1437-400"
    s3.put_object(Bucket="acme-files", Key="in/profiles.parquet", Body=b"PAR1....PAR1")
    r = preview(fs, cid, "/acme-files/in/profiles.parquet", fileType="parquet")
    assert r.status_code == 501 and "parquet" in r.json()["errorMessage"]
    s3.put_object(Bucket="acme-files", Key="in/broken.json", Body=b'{"id": 1}\n{"id": \n')
    r = preview(fs, cid, "/acme-files/in/broken.json", fileType="json")
    assert r.status_code == 400 and code(r) == "FLOW-1435-400" and "line 2" in r.json()["errorMessage"]


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_an_iam_role_connection_reads_what_the_bucket_policy_grants_adobe_s_role(fs, s3):
    r = fs("GET", f"/connectionSpecs/{S3}/configs", params={"authType": "IamBasedAuthentication"})
    assert r.status_code == 200 and r.json() == {"configParams": {"IAMRole": ADOBE_IAM_ROLE}}
    role = r.json()["configParams"]["IAMRole"]
    assert role == fs.emu.adobe_iam_role and ":123456789012:" not in role
    s3.create_bucket(Bucket="acme-secure")
    for key in ("exports/a.csv", "other/b.csv"):
        s3.put_object(Bucket="acme-secure", Key=key, Body=CSV)
    cid = connection(fs, "IAMRole Based", {"bucketName": "acme-secure"})
    r = preview(fs, cid, "/acme-secure/exports/a.csv", fileType="delimited")
    assert r.status_code == 403 and code(r) == "FLOW-1436-403" and "s3:GetObject" in r.json()["errorMessage"]
    assert code(explore(fs, cid, objectType="root")) == "FLOW-1436-403"
    # Adobe's printed policy, for another folder: no grant here.
    other = {"Sid": "AEP Get Object Related Policy Prod", "Effect": "Allow", "Principal": {"AWS": role},
             "Action": "s3:Get*", "Resource": "arn:aws:s3:::acme-secure/other/*"}
    listing = {"Sid": "AEP List Bucket Prod", "Effect": "Allow", "Principal": {"AWS": [role]},
               "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::acme-secure",
               "Condition": {"StringLike": {"s3:prefix": ["other/*", ""]}, "Bool": {"aws:SecureTransport": "true"}}}
    s3.put_bucket_policy(Bucket="acme-secure", Policy=_policy(other, listing))
    assert preview(fs, cid, "/acme-secure/other/b.csv", fileType="delimited").json()["data"][0]["Id"] == "12345"
    assert code(preview(fs, cid, "/acme-secure/exports/a.csv", fileType="delimited")) == "FLOW-1436-403"
    assert code(explore(fs, cid, objectType="folder", object="/acme-secure/exports/")) == "FLOW-1436-403"
    assert [i["name"] for i in explore(fs, cid, objectType="folder", object="/acme-secure/other/").json()] == ["b.csv"]
    assert explore(fs, cid, objectType="root").json()[0]["path"] == "/acme-secure/"
    assert code(preview(fs, cid, "/acme-files/campaign/account.csv", fileType="delimited")) == "FLOW-1437-400"
    exports = {**other, "Resource": ["arn:aws:s3:::acme-secure/other/*", "arn:aws:s3:::acme-secure/exports/*"]}
    s3.put_bucket_policy(Bucket="acme-secure", Policy=_policy(exports, listing))
    assert preview(fs, cid, "/acme-secure/exports/a.csv", fileType="delimited").status_code == 200
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::acme-secure/exports/*"}
    s3.put_bucket_policy(Bucket="acme-secure", Policy=_policy(exports, listing, deny))
    assert code(preview(fs, cid, "/acme-secure/exports/a.csv", fileType="delimited")) == "FLOW-1436-403"


def test_configs_answer_only_what_a_spec_offers(fs):
    r = fs("GET", f"/connectionSpecs/{S3}/configs", params={"authType": "AccessKey"})
    assert r.status_code == 400 and code(r) == "FLOW-1438-400" and "IamBasedAuthentication" in r.text
    salesforce = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"
    r = fs("GET", f"/connectionSpecs/{salesforce}/configs", params={"authType": "IamBasedAuthentication"})
    assert r.status_code == 400 and code(r) == "FLOW-1438-400"
    assert fs("GET", "/connectionSpecs/00000000-0000-0000-0000-000000000000/configs").status_code == 404


def _source(fs, base, data, params):
    return fs("POST", "/sourceConnections", json={"name": "files", "baseConnectionId": base, "data": data,
                                                  "params": params,
                                                  "connectionSpec": {"id": S3, "version": "1.0"}})


def test_source_connections_and_a_cloud_storage_flow(fs):
    base = keys(fs)
    csv_data = {"format": "delimited", "properties": {"columnDelimiter": ";", "encoding": "ISO-8859-1",
                                                     "compressionType": "gzip"}}
    r = _source(fs, base, csv_data, {"path": "/acme-files/campaign/account.csv", "type": "file"})
    assert r.status_code == 201, r.text
    source = r.json()["id"]
    older = _source(fs, base, {"format": "delimited", "columnDelimiter": "\t"},
                    {"path": "/acme-files/campaign/*.tsv", "recursive": "true"})
    assert older.status_code == 201, older.text
    bad = [({"format": "xml"}, {"path": "/acme-files/a.csv"}, "data.format"),
           ({"format": "json", "properties": {"encoding": "UTF-8"}}, {"path": "/acme-files/a"},
            "data.properties.encoding"),
           ({"format": "parquet", "properties": {"compressionType": "gzip"}}, {"path": "/acme-files/a"},
            "data.properties.compressionType"),
           ({"format": "delimited", "properties": {"columnDelimiter": "ab"}}, {"path": "/acme-files/a"},
            "data.properties.columnDelimiter"),
           ({"format": "delimited", "properties": {"quote": "'"}}, {"path": "/acme-files/a"},
            "data.properties.quote"),
           ({"format": "delimited"}, {}, "params.path"),
           ({"format": "delimited"}, {"path": "acme-files/a.csv"}, "params.path"),
           ({"format": "delimited"}, {"path": "/acme-files/a", "type": "dir"}, "params.type"),
           ({"format": "delimited"}, {"path": "/acme-files/a", "recursive": "yes"}, "params.recursive"),
           ({"format": "delimited"}, {"path": "/acme-files/a", "tableName": "x"}, "params.tableName")]
    for data, params, field in bad:
        r = _source(fs, base, data, params)
        assert (r.status_code, code(r)) == (400, "FLOW-1422-400") and r.json()["errorMessage"].startswith(field), (
            field, r.text)
    role = connection(fs, "IAMRole Based", {"bucketName": "acme-secure"})
    r = _source(fs, role, {"format": "json"}, {"path": "/acme-files/a.json"})
    assert r.status_code == 400 and "acme-secure" in r.json()["errorMessage"]
    assert _source(fs, role, {"format": "json"}, {"path": "/acme-secure/exports/", "type": "folder",
                                                   "recursive": True}).status_code == 201

    specs = fs("GET", "/flowSpecs", params={"property": "name==CloudStorageToAEP"}).json()["items"]
    assert [s["id"] for s in specs] == [CLOUD_FLOW_SPEC] and S3 in specs[0]["sourceConnectionSpecIds"]
    assert [t["name"] for t in specs[0]["transformationSpecs"]] == ["Mapping", "Encryption"]
    target = fs("POST", "/targetConnections", json={
        "name": "tgt", "params": {"dataSetId": DATASET},
        "data": {"schema": {"id": SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "connectionSpec": {"id": DATA_LAKE, "version": "1.0"}})
    assert target.status_code == 201, target.text
    flow = {"name": "files", "sourceConnectionIds": [source], "targetConnectionIds": [target.json()["id"]],
            "scheduleParams": {"startTime": int(time.time()), "frequency": "once"}}
    r = fs("POST", "/flows", json={**flow, "flowSpec": {"id": CRM_FLOW_SPEC, "version": "1.0"}})
    assert r.status_code == 400 and code(r) == "FLOW-1414-400"
    r = fs("POST", "/flows", json={**flow, "flowSpec": {"id": CLOUD_FLOW_SPEC, "version": "1.0"}})
    assert r.status_code == 201, r.text
    run = fs("POST", "/runs", json={"flowId": r.json()["id"], "params": {"startTime": int(time.time()),
                                                                          "windowStartTime": 0,
                                                                          "windowEndTime": int(time.time())}})
    assert run.status_code == 201, run.text


def test_without_s3_the_emulator_says_so():
    with emulator_running(client_secret=SECRET) as emu:
        headers = aep_headers(emu, SECRET)
        base = emu.base_url + "/data/foundation/flowservice"
        r = requests.post(base + "/connections", headers=headers, timeout=T, json={
            "name": "s3", "connectionSpec": {"id": S3, "version": "1.0"},
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "a", "s3SecretKey": "b"}}})
        r = requests.get(f"{base}/connections/{r.json()['id']}/explore", params={"objectType": "root"},
                         headers=headers, timeout=T)
        assert r.status_code == 501 and "no S3" in r.json()["errorMessage"]


def test_a_bucket_policy_is_read_as_aws_reads_one():
    from local.emulator.bucket_policy import allows

    role, obj, bucket = ADOBE_IAM_ROLE, "arn:aws:s3:::acme/in/a?b.csv", "arn:aws:s3:::acme"
    grant = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:get*", "Resource": "arn:aws:s3:::acme/in/*"}
    assert allows({"Statement": grant}, role, "s3:GetObject", obj)
    assert not allows({"Statement": grant}, "arn:aws:iam::210987654321:role/another", "s3:GetObject", obj)
    assert not allows({"Statement": [grant, {**grant, "Effect": "Deny", "Principal": "*"}]}, role, "s3:GetObject", obj)
    # NotPrincipal: everyone but the role is denied; a condition the emulator cannot evaluate does not apply.
    others = {"Effect": "Deny", "NotPrincipal": {"AWS": role}, "Action": "s3:*", "Resource": "*"}
    assert allows({"Statement": [grant, others]}, role, "s3:GetObject", obj)
    assert not allows({"Statement": [{**grant, "Principal": "*"}, others]}, "arn:aws:iam::1:role/x", "s3:GetObject",
                      obj)
    assert not allows({"Statement": {**grant, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}}, role,
                      "s3:GetObject", obj)
    assert not allows({"Statement": {**grant, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}}, role,
                      "s3:GetObject", obj)
    literal = {**grant, "Resource": "arn:aws:s3:::acme/in/a${?}b.csv"}
    assert allows({"Statement": literal}, role, "s3:GetObject", obj)
    assert not allows({"Statement": literal}, role, "s3:GetObject", "arn:aws:s3:::acme/in/axb.csv")
    listing = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:ListBucket", "Resource": bucket,
               "Condition": {"StringEquals": {"s3:prefix": "in/"}}}
    assert allows({"Statement": listing}, role, "s3:ListBucket", bucket, {"s3:prefix": "in/"})
    assert not allows({"Statement": listing}, role, "s3:ListBucket", bucket, {"s3:prefix": "out/"})
    assert not allows({"Statement": listing}, role, "s3:GetObject", obj)  # no s3:prefix, and not its action
