// Tree expand/collapse: htmx fetches a node's children once; later clicks only show/hide them.
function medkgToggle(button) {
  var open = button.getAttribute("aria-expanded") === "true";
  var kids = button.parentElement.querySelector(":scope > ul.kids");
  button.setAttribute("aria-expanded", open ? "false" : "true");
  button.textContent = open ? "▸" : "▾";
  if (kids) { kids.hidden = open; }
}
