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
