from tests.web.conftest import sign_in


def test_scratch(web, people):
    sign_in(web, people.create("editor"))
    web.go("/admin/products/new")
    web.page.get_by_label("Name").fill("x")
    web.page.get_by_label("Slug").fill("bad slug!!")
    web.page.get_by_role("button", name="Save").click()
    web.page.get_by_role("alert").wait_for()
    print(web.page.get_by_role("alert").inner_text())
    web.page.wait_for_timeout(300)
    print("PROBLEMS", web.problems)
