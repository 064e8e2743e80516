"""A refused form shown again: what was typed and picked put back, the message in the form that
was posted, and nothing secret echoed."""

from __future__ import annotations

from gonghui.edge.form_again import refill

PAGE = """<main>
<form method="post" action="/things/1/rename"><input type="hidden" name="row" value="1">
  <input name="name" value="old one"></form>
<form method="post" action="/things/2/rename"><input type="hidden" name="row" value="2">
  <input name="name" value="old two"></form>
<form method="post" action="/things" enctype="multipart/form-data">
  <input type="hidden" name="csrf_token" value="fresh">
  <label>名称 <input name="name"></label>
  <label>密码 <input type="password" name="password"></label>
  <select name="kind"><option value="a" selected>甲</option><option value="b">乙</option></select>
  <textarea name="note">
</textarea>
  <label><input type="checkbox" name="urgent" value="yes"> 加急</label>
  <label><input type="checkbox" name="public" value="yes" checked> 公开</label>
  <input type="file" name="file"><br/>
  <input name="amount" type="number" />
</form>
</main>"""


def test_the_posted_form_gets_back_what_was_typed_and_picked_and_the_message() -> None:
    sent = [
        ("csrf_token", "stale"), ("name", "张三 & <b>"), ("password", "s3cret"), ("kind", "b"),
        ("note", "第一行\n</textarea><script>"), ("urgent", "yes"), ("amount", "abc"),
    ]  # fmt: skip
    html = refill(PAGE, "/things", sent, "金额应为数字", invalid={"amount"})
    assert html is not None
    form = html[html.index('action="/things"') :]
    assert '<p class="flash error form-error" role="alert">金额应为数字</p>' in form
    assert 'value="张三 &amp; &lt;b&gt;"' in form
    assert "s3cret" not in html  # a password is never echoed
    assert 'value="fresh"' in form  # the page's own token, not the one posted
    assert '<option value="b" selected>' in form
    assert '<option value="a">' in form
    assert "第一行\n&lt;/textarea&gt;&lt;script&gt;</textarea>" in form
    assert '<input type="checkbox" name="urgent" value="yes" checked>' in form
    assert '<input type="checkbox" name="public" value="yes">' in form  # unticked by the person
    assert '<input name="amount" type="number" aria-invalid="true" value="abc" />' in form
    assert html.count('role="alert"') == 1


def test_of_one_form_per_row_the_row_posted_comes_back() -> None:
    html = refill(PAGE, "/things/2/rename", [("row", "2"), ("name", "")], "名称不能为空")
    assert html is not None
    first, second = html.split('action="/things/2/rename"')
    assert 'value="old one"' in first
    assert "role" not in first
    assert "名称不能为空" in second
    assert '<input name="name" value="">' in second


def test_a_page_without_the_form_is_not_a_form_coming_back() -> None:
    assert refill(PAGE, "/elsewhere", [("name", "x")], "不行") is None


def test_a_form_folded_in_details_is_unfolded_with_its_message() -> None:
    page = """<details class="card"><summary>登记参保人</summary>
<form method="post" action="/wallet/insured"><input name="name"></form></details>
<details><summary>其他</summary><form method="post" action="/other"></form></details>"""
    html = refill(page, "/wallet/insured", [("name", "刘秀英")], "身份证号应为18位")
    assert html is not None
    assert html.startswith('<details class="card" open><summary>登记参保人</summary>')
    assert "<details><summary>其他</summary>" in html  # only the form's own stays unfolded
    assert 'value="刘秀英"' in html
