from gonghui.cli import app

app(prog_name="gonghui")
