// The finder's "use my location" button: fills the coordinates from the phone's GPS.
// Served from /static (the Content-Security-Policy allows no inline script).
(function () {
  var button = document.getElementById("locate");
  if (!button || !navigator.geolocation) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (where) {
      document.getElementById("lat").value = where.coords.latitude.toFixed(5);
      document.getElementById("lon").value = where.coords.longitude.toFixed(5);
      button.form.submit();
    });
  });
})();

// The door screen: a new check-in code when the current one expires. A script rather than a
// <meta http-equiv="refresh">, which would also reload the page under a person using it with a
// screen reader (WCAG 2.2.1); the screen itself has no one to press a button.
(function () {
  var seconds = Number(document.body.getAttribute("data-refresh-seconds"));
  if (seconds > 0) { setTimeout(function () { window.location.reload(); }, seconds * 1000); }
})();
