import configparser
import stat
from pathlib import Path

from chaosdrill.environments.local.supervisor import Program, Supervisor


def test_program_section_quotes_and_escapes() -> None:
    prog = Program(
        "app-1",
        ["/usr/bin/python", "-m", "x", "--arg", "a b%c"],
        Path("/l/app-1.log"),
        env={"RE_DSN": "host=a,b port=1,2 password=p%w", "Q": 'say "hi"'},
        user="postgres",
        autorestart=False,
        stopsignal="INT",
    )
    parser = configparser.RawConfigParser()
    parser.read_string(prog.render())
    section = parser["program:app-1"]
    assert section["command"] == "/usr/bin/python -m x --arg 'a b%%c'"
    assert section["autostart"] == "false"
    assert section["autorestart"] == "false"
    assert section["stopsignal"] == "INT"
    assert section["user"] == "postgres"
    assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
    assert section["environment"] == 'RE_DSN="host=a,b port=1,2 password=p%%w",Q="say \\"hi\\""'
    assert section["umask"] == "077"  # its files are for its user alone


def test_configuration_files_are_for_their_user_alone(tmp_path: Path) -> None:
    root = tmp_path / "env"
    root.mkdir(mode=0o700)
    supervisor = Supervisor(root)
    supervisor.write_config()
    supervisor.add(Program("x", ["/bin/true"], root / "logs" / "x.log"))
    assert stat.S_IMODE(supervisor.conf.stat().st_mode) == 0o600
    assert stat.S_IMODE((supervisor.conf_d / "x.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE(supervisor.conf_d.stat().st_mode) == 0o700
