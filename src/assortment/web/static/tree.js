// Assortment workbench: the hierarchy tree (WAI-ARIA tree pattern, lazy children, dialogs, drag and drop)
// and the node page's product picker. No inline script anywhere (CSP script-src 'self').
//
// Every change is a plain form post: the dialogs' forms, and for a drop the hidden #place-form, which
// this script fills and submits. The server answers with the tree as it was open (the `open` field
// lists the open nodes) or, when the API refuses the change, the unchanged tree and an alert.
"use strict";

(() => {
  const ITEM = 'li[role="treeitem"]';

  // --- the tree ---------------------------------------------------------------------------------------

  const tree = document.getElementById("tree");

  function visibleItems() {
    return Array.from(tree.querySelectorAll(ITEM)).filter((li) => !li.parentElement.closest("[hidden]"));
  }

  function current() {
    return tree ? tree.querySelector(`${ITEM}[tabindex="0"]`) : null;
  }

  // Roving tabindex: one item of the tree is in the tab order; its row's buttons follow it.
  function makeCurrent(li, focus) {
    const before = current();
    if (before && before !== li) {
      before.tabIndex = -1;
      rowButtons(before).forEach((b) => { b.tabIndex = -1; });
    }
    li.tabIndex = 0;
    rowButtons(li).forEach((b) => { b.tabIndex = 0; });
    if (focus) {
      li.focus();
    }
  }

  function rowButtons(li) {
    const row = li.querySelector(":scope > .row");
    return row ? Array.from(row.querySelectorAll("button")) : [];
  }

  function group(li) {
    return li.querySelector(':scope > ul[role="group"]');
  }

  function parentItem(li) {
    const up = li.parentElement.closest(ITEM);
    return up && tree.contains(up) ? up : null;
  }

  async function fetchHtml(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(`${response.status} loading ${url}`);
    }
    return response.text();
  }

  async function expand(li) {
    const children = group(li);
    if (!children) {
      return;
    }
    if (!children.dataset.loaded) {
      li.setAttribute("aria-busy", "true");
      try {
        children.innerHTML = await fetchHtml(li.dataset.childrenUrl);
        children.dataset.loaded = "true";
        enableDragging(children);
      } catch (error) {
        showProblem(`The children of this node could not be loaded (${error.message}).`);
        return;
      } finally {
        li.removeAttribute("aria-busy");
      }
    }
    children.hidden = false;
    li.setAttribute("aria-expanded", "true");
  }

  function collapse(li) {
    const children = group(li);
    if (children) {
      children.hidden = true;
      li.setAttribute("aria-expanded", "false");
      if (children.contains(document.activeElement) || children.contains(current())) {
        makeCurrent(li, true);
      }
    }
  }

  async function showMore(more) {
    const parentList = more.parentElement;
    try {
      const html = await fetchHtml(more.dataset.moreUrl);
      const template = document.createElement("template");
      template.innerHTML = html;
      const first = template.content.querySelector(ITEM);
      more.replaceWith(template.content);
      if (first) {
        const added = parentList.querySelector(`#${CSS.escape(first.id)}`) || first;
        makeCurrent(added, true);
      }
    } catch (error) {
      showProblem(`More nodes could not be loaded (${error.message}).`);
    }
  }

  function showProblem(text) {
    let alert = document.getElementById("tree-problem");
    if (!alert) {
      alert = document.createElement("div");
      alert.id = "tree-problem";
      alert.className = "alert error";
      alert.setAttribute("role", "alert");
      document.querySelector(".tree-box, main h1").before(alert);
    }
    alert.textContent = text;
  }

  function activate(li) {
    if (li.classList.contains("more")) {
      showMore(li);
      return;
    }
    const link = li.querySelector(":scope > .row a.name");
    if (link) {
      window.location.assign(link.href);
    }
  }

  function onKey(event) {
    const li = event.target;
    if (!(li instanceof HTMLElement) || !li.matches(ITEM)) {
      return; // a key pressed on a row's button does what the button does
    }
    const items = visibleItems();
    const at = items.indexOf(li);
    const expanded = li.getAttribute("aria-expanded");
    let next = null;
    switch (event.key) {
      case "ArrowDown": next = items[at + 1]; break;
      case "ArrowUp": next = items[at - 1]; break;
      case "Home": next = items[0]; break;
      case "End": next = items[items.length - 1]; break;
      case "ArrowRight":
        if (expanded === "false") {
          expand(li);
        } else if (expanded === "true") {
          next = group(li).querySelector(ITEM);
        }
        break;
      case "ArrowLeft":
        if (expanded === "true") {
          collapse(li);
        } else {
          next = parentItem(li);
        }
        break;
      case "Enter": activate(li); break;
      default: return;
    }
    event.preventDefault();
    if (next) {
      makeCurrent(next, true);
    }
  }

  function onClick(event) {
    const li = event.target.closest(ITEM);
    if (!li || !tree.contains(li)) {
      return;
    }
    if (event.target.closest(".twisty")) {
      if (li.getAttribute("aria-expanded") === "true") {
        collapse(li);
      } else {
        expand(li);
      }
      makeCurrent(li, true);
      return;
    }
    if (li.classList.contains("more")) {
      showMore(li);
      return;
    }
    const action = event.target.closest("[data-node-action]");
    if (action) {
      makeCurrent(li, false);
      openNodeDialog(action.dataset.nodeAction, li, li);
      return;
    }
    if (!event.target.closest("a, button")) {
      makeCurrent(li, true);
    }
  }

  // --- what a reload keeps: the open nodes and the one in focus ----------------------------------------

  function openIds() {
    return Array.from(tree ? tree.querySelectorAll(`${ITEM}[aria-expanded="true"]`) : [])
      .map((li) => li.dataset.nodeId);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const open = form.querySelector("[data-tree-open]");
    if (open) {
      open.value = openIds().join(",");
    }
    const focus = form.querySelector("[data-tree-focus]");
    if (focus && !focus.value) {
      const li = current();
      focus.value = li && li.dataset.nodeId ? li.dataset.nodeId : "";
    }
  }, true);

  // --- dialogs ---------------------------------------------------------------------------------------------

  function openDialog(dialog, opener) {
    dialog.returnFocusTo = opener;
    dialog.showModal();
  }

  function actionFor(form, nodeId) {
    form.action = form.dataset.actionTemplate.replace("{id}", encodeURIComponent(nodeId));
  }

  async function loadOptions(dialog, selected) {
    const select = dialog.querySelector("[data-options]");
    const filter = dialog.querySelector("[data-options-filter]");
    const url = new URL(dialog.dataset.optionsUrl, window.location.href);
    if (filter && filter.value.trim()) {
      url.searchParams.set("q", filter.value.trim());
    }
    if (selected !== undefined) {
      url.searchParams.set("selected", selected);
    } else if (select.value) {
      url.searchParams.set("selected", select.value);
    }
    // Until the list has arrived the choice cannot be made (nor sent): a choice made before would be
    // replaced by the loaded list's selection.
    const submit = dialog.querySelector('button[type="submit"]');
    select.setAttribute("aria-busy", "true");
    select.disabled = true;
    if (submit) {
      submit.disabled = true;
    }
    try {
      select.innerHTML = await fetchHtml(url.toString());
    } catch (error) {
      showProblem(`The list of nodes could not be loaded (${error.message}).`);
    } finally {
      select.removeAttribute("aria-busy");
      select.disabled = false;
      if (submit) {
        submit.disabled = false;
      }
    }
  }

  function openNodeDialog(kind, li, opener) {
    const dialog = document.getElementById(`${kind}-node`);
    if (!dialog) {
      return;
    }
    const form = dialog.querySelector("form");
    actionFor(form, li.dataset.nodeId);
    form.querySelector("[data-tree-focus]").value = li.dataset.nodeId;
    dialog.querySelectorAll("[data-node-name]").forEach((el) => { el.textContent = li.dataset.name; });
    dialog.querySelectorAll("[data-field]").forEach((input) => { input.value = li.dataset[input.dataset.field] || ""; });
    if (kind === "move") {
      const filter = dialog.querySelector("[data-options-filter]");
      filter.value = "";
      const up = parentItem(li);
      loadOptions(dialog, up ? up.dataset.nodeId : "");
    }
    openDialog(dialog, opener);
  }

  document.addEventListener("click", (event) => {
    const adder = event.target.closest('[data-tree-dialog="add"]');
    if (adder) {
      const dialog = document.getElementById("add-node");
      const li = current();
      const filter = dialog.querySelector("[data-options-filter]");
      filter.value = "";
      dialog.querySelector("form").reset();
      loadOptions(dialog, "");
      dialog.querySelector("[data-tree-focus]").value = li && li.dataset.nodeId ? li.dataset.nodeId : "";
      openDialog(dialog, adder);
    }
  });

  // The Find box narrows a parent select (typing a node's name is quicker than scrolling 2,000 options).
  let filterTimer = null;
  document.addEventListener("input", (event) => {
    const filter = event.target.closest("[data-options-filter]");
    if (filter) {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => loadOptions(filter.closest("dialog")), 250);
    }
  });

  document.addEventListener("keydown", (event) => {
    // Enter in a search box searches; it does not submit the dialog's form.
    if (event.key === "Enter" && event.target.matches("[data-options-filter], #product-search")) {
      event.preventDefault();
    }
  });

  // --- drag and drop (SortableJS moves nothing itself: the drop is decided here and posted) -----------------
  //
  // Over the middle half of a node's row: drop onto that node (re-parent under it). Over its top or bottom
  // quarter: drop between it and its neighbour (same parent as that node, placed at that position).

  let drop = null; // {li, where: "onto"|"before"|"after"}
  let dragged = null;

  function clearDrop() {
    if (drop) {
      drop.li.classList.remove("drop-target", "drop-before", "drop-after");
    }
    drop = null;
  }

  function trackPointer(event) {
    if (!dragged) {
      return;
    }
    const under = document.elementFromPoint(event.clientX, event.clientY);
    const row = under && under.closest(".row");
    const li = row && row.parentElement;
    if (!li || !li.matches(`${ITEM}.node`) || !tree.contains(li) || li === dragged) {
      clearDrop();
      return;
    }
    const box = row.getBoundingClientRect();
    const y = (event.clientY - box.top) / box.height;
    const where = y < 0.25 ? "before" : y > 0.75 ? "after" : "onto";
    if (drop && drop.li === li && drop.where === where) {
      return;
    }
    clearDrop();
    drop = { li, where };
    li.classList.add(where === "onto" ? "drop-target" : `drop-${where}`);
  }

  function submitDrop(node, target) {
    const form = document.getElementById("place-form");
    actionFor(form, node.dataset.nodeId);
    const up = parentItem(target.li);
    const set = (name, value) => { form.querySelector(`[name="${name}"]`).value = value; };
    if (target.where === "onto") {
      set("parent", target.li.dataset.nodeId);
    } else {
      set("parent", up ? up.dataset.nodeId : "");
      set(target.where, target.li.dataset.nodeId);
    }
    form.querySelector("[data-tree-focus]").value = node.dataset.nodeId;
    form.requestSubmit();
  }

  function enableDragging(list) {
    if (!tree.dataset.editable || typeof Sortable === "undefined") {
      return;
    }
    Sortable.create(list, {
      group: { name: "tree", pull: false, put: false },
      sort: false,
      handle: ".drag-handle",
      draggable: ".node",
      forceFallback: true,
      fallbackOnBody: true,
      onStart: (event) => {
        dragged = event.item;
        clearDrop();
      },
      onEnd: () => {
        const node = dragged;
        const target = drop;
        clearDrop();
        dragged = null;
        if (node && target) {
          submitDrop(node, target);
        }
      },
    });
  }

  if (tree) {
    tree.addEventListener("keydown", onKey);
    tree.addEventListener("click", onClick);
    tree.addEventListener("focusin", (event) => {
      const li = event.target.closest(ITEM);
      if (li && li.tabIndex !== 0) {
        makeCurrent(li, false);
      }
    });
    document.addEventListener("pointermove", trackPointer, true);
    document.addEventListener("mousemove", trackPointer, true);
    const focus = tree.dataset.focus && document.getElementById(`node-${tree.dataset.focus}`);
    const first = tree.querySelector(ITEM);
    if (focus) {
      makeCurrent(focus, true);
      focus.scrollIntoView({ block: "nearest" });
    } else if (first) {
      makeCurrent(first, false);
    }
    enableDragging(tree);
    tree.querySelectorAll('ul[role="group"][data-loaded]').forEach(enableDragging);
  }

  // --- the node page: Add products keeps what was ticked across searches --------------------------------------

  const chosen = document.getElementById("chosen-products");
  const found = document.getElementById("found-products");
  if (chosen && found) {
    found.addEventListener("change", (event) => {
      const box = event.target;
      if (box.matches('input[type="checkbox"]') && box.checked) {
        const check = box.closest(".check");
        const none = chosen.querySelector(".none-chosen");
        if (none) {
          none.remove();
        }
        chosen.append(check);
        box.focus();
      }
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.target === found) {
        chosen.querySelectorAll(".check").forEach((check) => {
          const again = found.querySelector(`.check[data-product-id="${CSS.escape(check.dataset.productId)}"]`);
          if (again) {
            again.remove();
          }
        });
      }
    });
  }
})();
