// The page's one enhancement of the navigation: on a narrow screen the pill bar scrolls
// sideways, and the current page's pill is brought into view (without it, /wallet's pill
// starts off-screen). Everything works without this file.
document.addEventListener("DOMContentLoaded", function () {
  var active = document.querySelector("nav.main a.active");
  if (active && active.parentElement.scrollWidth > active.parentElement.clientWidth) {
    active.parentElement.scrollLeft = active.offsetLeft - active.parentElement.clientWidth / 2 + active.offsetWidth / 2;
  }
});
