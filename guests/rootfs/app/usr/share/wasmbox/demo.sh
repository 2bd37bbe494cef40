# The wasmbox demo: what `node host/run.js` runs, in the default image (the image's Cmd is
# /bin/sh /usr/share/wasmbox/demo.sh). It shows the sandbox's overlay at work: the image's read-only
# layers, a copy-up on the first write, a whiteout on a delete, the merged view, and where each file
# lives. Every command is printed before it runs, with a "$ " in front. Nothing it does reaches the
# image: the next run starts from the same layers again.
#
# sh here is wasmbox's small shell (guests/sh.c): no pipes, no if/for; each command is a program of
# /bin/toolbox, started through the host's wasmbox.spawn.
set -e
cat /etc/motd
echo "
This is /usr/share/wasmbox/demo.sh, run by /bin/sh inside the sandbox. The image has two read-only
layers: 0, the userland (/bin, /etc), and 1, this demo (a new /etc/motd, and a whiteout that deletes
/etc/issue of layer 0). On top, inside the sandbox, is the writable upper layer.

\$ layers /etc/motd /etc/hostname /bin/ls"
layers /etc/motd /etc/hostname /bin/ls
echo "\$ echo /etc/*"
echo /etc/*

echo "
1. Write to /etc: the first write copies a file of the image up into the upper layer.
\$ echo 'Visited by the demo.' >> /etc/motd
\$ echo sandbox > /etc/hostname
\$ mkdir /etc/demo.d && echo 'key = value' > /etc/demo.d/app.conf"
echo 'Visited by the demo.' >> /etc/motd
echo sandbox > /etc/hostname
mkdir /etc/demo.d && echo 'key = value' > /etc/demo.d/app.conf

echo "
2. Delete a file of the image: a whiteout in the upper layer hides it.
\$ rm /etc/os-release"
rm /etc/os-release

echo "
3. The merged view: the upper layer over the image's layers.
\$ ls -l /etc"
ls -l /etc
echo "\$ cat /etc/motd"
cat /etc/motd

echo "
4. What the upper layer holds now, and where the rest comes from:
\$ layers /etc /etc/motd /etc/hostname /etc/demo.d/app.conf /etc/passwd /bin/ls"
layers /etc /etc/motd /etc/hostname /etc/demo.d/app.conf /etc/passwd /bin/ls

echo "
5. The filestore: the upper layer's file data, in 4 KiB pages (Size is its limit, --size).
\$ df -h /"
df -h /

echo "
None of this reached the image: the next run starts afresh. For a shell: node host/run.js -it"
