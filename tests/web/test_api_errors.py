"""Every refusal under /api has one JSON body, and the OpenAPI schema documents it for each
status an operation can answer with."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gonghui.core.auth import Role
from tests.world import World, csrf_of, login

ERROR_BODY = {"$ref": "#/components/schemas/ErrorOut"}


def _documented(client: TestClient, method: str, path: str) -> dict[str, object]:
    operation = client.get("/api/v1/openapi.json").json()["paths"][path][method]
    return {
        status: answer["content"]["application/json"]["schema"]
        for status, answer in operation["responses"].items()
        if status not in {"200", "201"}
    }


def test_each_operation_documents_the_refusals_its_signature_allows(client: TestClient) -> None:
    assert _documented(client, "get", "/api/v1/health") == {}
    assert _documented(client, "get", "/api/v1/members/units/{unit_id}") == dict.fromkeys(
        ("401", "403", "404", "422"), ERROR_BODY
    )
    assert _documented(client, "post", "/api/v1/members/banks") == dict.fromkeys(
        ("400", "401", "403", "409", "422"), ERROR_BODY
    )
    # Declared by the route itself: a unit code that names no unit the caller may see.
    assert "404" in _documented(client, "get", "/api/v1/retirement/impact")
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's, not what the app sends
    assert schemas["ErrorOut"]["required"] == ["error"]


def test_a_body_that_does_not_parse_is_a_400_in_chinese(client: TestClient) -> None:
    # Found by the schemathesis run: an undocumented 400 with FastAPI's English text.
    answer = client.post(
        "/api/v1/members/banks", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "code": "malformed_body",
            "message": "请求内容无法解析：应为 UTF-8 编码的 JSON 或完整的表单",
        }
    }


def test_a_malformed_request_names_its_fields(client: TestClient, world: World) -> None:
    login(client, world.users[Role.FEDERATION_STAFF])
    answer = client.get("/api/v1/members/units/0")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert [issue["loc"] for issue in error["details"]] == [["path", "unit_id"]]
    assert set(error["details"][0]) == {"loc", "msg"}


def test_the_schema_lists_the_json_api_only(client: TestClient) -> None:
    # The audit pages once appeared in it, as JSON operations answering HTML and XLSX.
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert [path for path in paths if not path.startswith("/api/v1/")] == []


def test_text_with_a_control_character_is_refused_and_names_its_field(
    client: TestClient, world: World
) -> None:
    # A NUL failed the statement on PostgreSQL (a 500); a \x01 was stored on SQLite and made
    # every later export of the name a 500.
    login(client, world.users[Role.FEDERATION_STAFF])
    headers = {"X-CSRF-Token": csrf_of(client, "/home")}
    for name in ("威海\x00银行", "威海\x01银行", "威海\x08银行", "威海\x0c银行", "威海\x1f银行"):
        answer = client.post(
            "/api/v1/members/banks",
            json={"code": "WHB", "name": name, "prefixes": ["621777"]},
            headers=headers,
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "control_characters"
        assert "控制字符" in answer.json()["error"]["message"]
    in_a_list = client.post(
        "/api/v1/members/banks",
        json={"code": "WHB", "name": "威海银行", "prefixes": ["62177\x00"]},
        headers=headers,
    )
    assert in_a_list.status_code == 422
    assert in_a_list.json()["error"]["code"] == "control_characters"
