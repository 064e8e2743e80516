// The page's enhancements, each of something already on it; everything works without this
// file. On a narrow screen the pill bar scrolls sideways, and the current page's pill is
// brought into view (without it, /wallet's pill starts off-screen). A refused form comes back
// with its message (role="alert") beside the form, which on a phone can be a screen or more
// below where the page opens: the page opens at the message instead.
document.addEventListener("DOMContentLoaded", function () {
  var active = document.querySelector("nav.main a.active");
  if (active && active.parentElement.scrollWidth > active.parentElement.clientWidth) {
    active.parentElement.scrollLeft = active.offsetLeft - active.parentElement.clientWidth / 2 + active.offsetWidth / 2;
  }
  var refusal = document.querySelector('[role="alert"]');
  if (refusal) {
    var box = refusal.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      refusal.scrollIntoView({ block: "center" });
    }
  }
});
