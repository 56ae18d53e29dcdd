#!/usr/bin/env python3
"""Writes the AWS Lambda event fixtures of the serving tests.

Each event carries, base64-encoded as AWS sends binary bodies, a ToFunction
for `test/counter:a` with state `count` = 10 and one int message (5, or -1
for the failing body), built with the official Python SDK's generated
protobuf module (`pip install apache-flink-statefun==3.3.0`). The event
shapes follow AWS's documented examples for each trigger.

Run from anywhere: python3 statefun-sdk/tests/serving/events/generate.py
"""

import base64
import json
import os

from statefun.request_reply_pb2 import ToFunction
from statefun.types_pb2 import IntWrapper, LongWrapper

HERE = os.path.dirname(os.path.abspath(__file__))


def body(n):
    request = ToFunction()
    batch = request.invocation
    batch.target.namespace = "test"
    batch.target.type = "counter"
    batch.target.id = "a"
    state = batch.state.add()
    state.state_name = "count"
    state.state_value.typename = "io.statefun.types/long"
    state.state_value.has_value = True
    state.state_value.value = LongWrapper(value=10).SerializeToString()
    invocation = batch.invocations.add()
    invocation.argument.typename = "io.statefun.types/int"
    invocation.argument.has_value = True
    invocation.argument.value = IntWrapper(value=n).SerializeToString()
    return base64.b64encode(request.SerializeToString()).decode()


HEADERS = {
    "accept": "application/octet-stream",
    "content-type": "application/octet-stream",
    "host": "example.com",
    "user-agent": "statefun",
}


def http_v2(b64, domain, route_key, api_id):
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": "/statefun",
        "rawQueryString": "",
        "headers": HEADERS,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": "POST",
                "path": "/statefun",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "statefun",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route_key,
            "stage": "$default",
            "time": "23/Nov/2026:23:00:00 +0000",
            "timeEpoch": 1795474800000,
        },
        "body": b64,
        "isBase64Encoded": True,
    }


def rest_v1(b64):
    return {
        "resource": "/statefun",
        "path": "/statefun",
        "httpMethod": "POST",
        "headers": HEADERS,
        "multiValueHeaders": {k: [v] for k, v in HEADERS.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "1234567890",
            "domainName": "1234567890.execute-api.us-east-1.amazonaws.com",
            "httpMethod": "POST",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "statefun"},
            "path": "/prod/statefun",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1795474800000,
            "resourceId": "123456",
            "resourcePath": "/statefun",
            "stage": "prod",
        },
        "body": b64,
        "isBase64Encoded": True,
    }


def alb(b64):
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/statefun/6d0ecf831eec9f09"
            }
        },
        "httpMethod": "POST",
        "path": "/statefun",
        "queryStringParameters": {},
        "headers": HEADERS,
        "body": b64,
        "isBase64Encoded": True,
    }


def write(name, content):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
        f.write(content)


def main():
    ok = body(5)
    write("body.b64", ok + "\n")
    write("failing-body.b64", body(-1) + "\n")
    events = {
        "function-url.json": http_v2(ok, "abcdefghijklmnop.lambda-url.us-east-1.on.aws", "$default", "abcdefghijklmnop"),
        "apigw-http-v2.json": http_v2(ok, "1234567890.execute-api.us-east-1.amazonaws.com", "POST /statefun", "1234567890"),
        "apigw-rest-v1.json": rest_v1(ok),
        "alb.json": alb(ok),
    }
    for name, event in events.items():
        write(name, json.dumps(event, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
