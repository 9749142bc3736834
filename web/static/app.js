// Progressive enhancement only: every page works without it.
// A print button (inline handlers are forbidden by the Content-Security-Policy).
document.addEventListener("click", function (e) {
  var t = e.target;
  if (t && t.matches && t.matches("[data-print]")) { window.print(); }
});

// The chat panel: a question's fragment names its event stream (`data-sse`); tokens
// arrive as JSON strings (`token`), then the rendered answer (`answer`) replaces them.
function openChatStreams(root) {
  var nodes = root.querySelectorAll ? root.querySelectorAll("[data-sse]") : [];
  Array.prototype.forEach.call(nodes, function (el) {
    if (el.getAttribute("data-opened")) { return; }
    el.setAttribute("data-opened", "1");
    var tokens = el.querySelector(".chat-tokens");
    var status = el.querySelector(".chat-status");
    var source = new EventSource(el.getAttribute("data-sse"));
    source.addEventListener("token", function (e) {
      if (status) { status.textContent = "Answering…"; }
      tokens.textContent += JSON.parse(e.data);
    });
    source.addEventListener("answer", function (e) {
      source.close();
      el.classList.remove("streaming");
      el.innerHTML = e.data;
    });
    source.onerror = function () {
      source.close();
      if (el.classList.contains("streaming") && status) {
        status.textContent = "The answer stream was interrupted; its result is in the audit trail.";
      }
    };
  });
}
document.addEventListener("htmx:load", function (e) { openChatStreams(e.detail.elt); });
// A sent question clears the box for the next one.
document.addEventListener("htmx:afterRequest", function (e) {
  var form = e.detail.elt;
  if (e.detail.successful && form && form.matches && form.matches(".chat-form")) { form.reset(); }
});
