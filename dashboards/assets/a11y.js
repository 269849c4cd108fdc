/* Accessible names and states the Dash components do not take as props.
 *
 * Every page labels its controls with <label for="id">. Dash 4 renders a dropdown as a <button>
 * named only by its value, a slider as a thumb and a number box, and an upload as a hidden file
 * input; none of them is named by that label. This script names each of them with its label
 * (aria-labelledby: "label, then value" for a dropdown; "Increase value: <label>" for a number
 * box's +/- buttons), names file inputs, and marks the
 * controls of a field the page flags as invalid (class "field invalid") with aria-invalid and
 * aria-describedby pointing at the problem shown under it, and marks the header link of the page
 * shown with aria-current="page" (dcc.Link takes no aria props). It re-applies itself when Dash
 * re-renders (a MutationObserver, at most once per animation frame).
 */
(function () {
  "use strict";

  function controlsOf(target) {
    var found = [];
    if (target.matches("button, input, select, textarea, [role=slider]")) {
      found.push(target);
    }
    target.querySelectorAll("button, input, select, textarea, [role=slider]")
      .forEach(function (el) {
        if (el.getAttribute("aria-hidden") !== "true" && el.type !== "hidden") found.push(el);
      });
    return found;
  }

  function addIds(el, attribute, ids) {
    var have = (el.getAttribute(attribute) || "").split(/\s+/).filter(Boolean);
    var want = ids.filter(function (id) { return have.indexOf(id) < 0; });
    if (want.length) el.setAttribute(attribute, want.concat(have).join(" "));
  }

  function label() {
    document.querySelectorAll("label[for]").forEach(function (lab) {
      var target = document.getElementById(lab.htmlFor);
      if (!target) return;
      if (!lab.id) lab.id = lab.htmlFor + "-label";
      controlsOf(target).forEach(function (el) {
        if (el.tagName === "INPUT" && el.id === lab.htmlFor) return;  // <label for> names it
        addIds(el, "aria-labelledby", [lab.id]);
      });
    });
    document.querySelectorAll("button[aria-controls]").forEach(function (el) {
      // a number box's +/- buttons: "Increase value" becomes "Increase value: fleet nodes"
      var lab = document.querySelector('label[for="' + el.getAttribute("aria-controls") + '"]');
      if (!lab) return;
      if (!el.dataset.ownLabel) el.dataset.ownLabel = el.getAttribute("aria-label") || "";
      var name = el.dataset.ownLabel + ": " + lab.textContent.trim();
      if (el.getAttribute("aria-label") !== name) el.setAttribute("aria-label", name);
    });
    document.querySelectorAll("input[type=file]:not([aria-label])").forEach(function (el) {
      var named = el.parentElement && el.parentElement.querySelector("[aria-label]");
      el.setAttribute("aria-label", named ? named.getAttribute("aria-label") : "upload a file");
    });
    document.querySelectorAll(".field").forEach(function (field) {
      var invalid = field.classList.contains("invalid");
      var problem = field.querySelector(".field-error[id]");
      controlsOf(field).forEach(function (el) {
        if (invalid) {
          el.setAttribute("aria-invalid", "true");
          if (problem) addIds(el, "aria-describedby", [problem.id]);
        } else if (el.hasAttribute("aria-invalid")) {
          el.removeAttribute("aria-invalid");
        }
      });
    });
  }

  function markCurrentPage() {
    // dcc.Link takes no aria-current: mark the header link of the page shown
    document.querySelectorAll("a.nav-link").forEach(function (link) {
      var here = new URL(link.href, window.location.href).pathname === window.location.pathname;
      if (here && link.getAttribute("aria-current") !== "page") {
        link.setAttribute("aria-current", "page");
      } else if (!here && link.hasAttribute("aria-current")) {
        link.removeAttribute("aria-current");
      }
    });
  }

  var pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; label(); markCurrentPage(); });
  }

  function start() {
    label();
    markCurrentPage();
    window.addEventListener("popstate", schedule);
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ["class"]
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
