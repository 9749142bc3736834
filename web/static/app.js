// Progressive enhancement only: every page works without it.
// A print button (inline handlers are forbidden by the Content-Security-Policy).
document.addEventListener("click", function (e) {
  var t = e.target;
  if (t && t.matches && t.matches("[data-print]")) { window.print(); }
});
