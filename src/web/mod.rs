//! vncmon's routes: the page, the MJPEG stream, snapshots and the JSON API.
//! Reads the hub and status; asks the capture thread to connect/disconnect.
