import pytest
from pydantic import ValidationError

from gonghui.core.settings import Environment, Settings


def test_the_defaults_run_the_embedded_sqlite_platform() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///var/gonghui.db"
    assert settings.environment is Environment.DEVELOPMENT


def test_it_reads_gonghui_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGHUI_DATABASE_URL", "postgresql://u@db/gonghui")
    monkeypatch.setenv("GONGHUI_LOGIN_MAX_FAILURES", "3")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@db/gonghui"
    assert settings.login_max_failures == 3


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("GONGHUI_DATABASE_URL", "mysql://x", "sqlite:// or postgresql://"),
        ("GONGHUI_PORT", "99999", "less than or equal"),
        ("GONGHUI_LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("GONGHUI_CLOCK_FIXED", "2025-02-10T09:00:00", "time zone"),
        ("GONGHUI_NO_SUCH_SETTING", "1", "Extra inputs"),
    ],
)
def test_a_bad_value_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)
    if variable == "GONGHUI_NO_SUCH_SETTING":
        # Unknown variables in the environment are ignored by design; extra= forbids unknown
        # keyword arguments, which is what a typo in code looks like.
        with pytest.raises(ValidationError, match=complaint):
            Settings(no_such_setting=1)  # type: ignore[call-arg]
        return
    with pytest.raises(ValidationError, match=complaint):
        Settings()


def test_production_refuses_development_secrets_and_a_fixed_clock() -> None:
    with pytest.raises(ValidationError, match="GONGHUI_SECRET_KEY"):
        Settings(environment=Environment.PRODUCTION, cookie_secure=True)
    strong = "k" * 40
    with pytest.raises(ValidationError, match="clock"):
        Settings(
            environment=Environment.PRODUCTION,
            secret_key=strong,
            data_key=strong + "d",
            cookie_secure=True,
            clock_offset_seconds=3600,
        )
    with pytest.raises(ValidationError, match="COOKIE_SECURE"):
        Settings(environment=Environment.PRODUCTION, secret_key=strong, data_key=strong + "d")
    ok = Settings(
        environment=Environment.PRODUCTION,
        secret_key=strong,
        data_key=strong + "d",
        cookie_secure=True,
    )
    assert ok.cookie_secure
