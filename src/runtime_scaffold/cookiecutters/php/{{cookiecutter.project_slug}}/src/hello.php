<?php
function hello($event, $context) { return $event; }
