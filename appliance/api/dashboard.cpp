// The dashboard: one page, compiled in, no external resources. It reads /api/v1/status every few
// seconds and renders it; approve and roll back go through the API with a confirmation.
#include "api/api.hpp"

namespace airheal::api {

const char* const kDashboardHtml = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>airheal</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1b1f24;margin:0;background:#f6f8fa}
header{background:#1b1f24;color:#fff;padding:.7rem 1.5rem;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:1.2rem;margin:0}main{padding:1rem 1.5rem;max-width:90rem;margin:auto}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.card b{font-size:1.6rem;margin-right:.25rem}section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
h2{font-size:1.05rem;margin:.2rem 0 .6rem}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eaeef2;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{color:#57606a;font-weight:600}.state-staged,.state-promoted{color:#116329}.state-held,.state-failed,.state-rolled_back{color:#a40e26}
.bars{display:flex;align-items:flex-end;gap:.4rem;height:9rem}.bar{background:#0969da;width:2.6rem;min-height:1px}
.barcol{display:flex;flex-direction:column;align-items:center;font-size:.8rem;color:#57606a}button{font:inherit;padding:.15rem .6rem;cursor:pointer}
.small{font-size:.85em;color:#57606a}.warn{color:#a40e26}.failure{color:#a40e26;font-weight:600}
</style></head><body>
<header><h1>airheal appliance</h1><span class="small" id="updated">loading&hellip;</span></header>
<main>
<div class="cards">
 <div class="card"><b id="watched">&ndash;</b> watched images</div>
 <div class="card"><b id="sev-critical">&ndash;</b> critical</div>
 <div class="card"><b id="sev-high">&ndash;</b> high</div>
 <div class="card"><b id="sev-medium">&ndash;</b> medium</div>
 <div class="card"><b id="sev-low">&ndash;</b> low</div>
 <div class="card"><b id="heals-pending">&ndash;</b> pending heals</div>
 <div class="card"><b id="heals-running">&ndash;</b> heals in progress</div>
 <div class="card"><b id="heals-staged">&ndash;</b> staged</div>
 <div class="card"><b id="heals-promoted">&ndash;</b> promoted</div>
 <div class="card"><b id="heals-held">&ndash;</b> held or failed</div>
 <div class="card"><b id="rollbacks">&ndash;</b> rollbacks</div>
 <div class="card"><b id="rollback-rate">&ndash;</b> rollback rate</div>
 <div class="card"><b id="tts-median">&ndash;</b> median time to stage</div>
 <div class="card"><b id="tts-p95">&ndash;</b> P95 time to stage</div>
 <div class="card"><b id="tth-pub">&ndash;</b> median time to heal, CVE published &rarr; promoted</div>
 <div class="card"><b id="tth-fix">&ndash;</b> median time to heal, fix imported &rarr; promoted</div>
</div>
<section><h2>Heals</h2><table id="heals"><thead><tr><th>#</th><th>Image</th><th>State</th><th>How</th><th>Reason</th><th>Updated</th><th></th></tr></thead><tbody></tbody></table></section>
<section><h2>Time to stage</h2><div class="bars" id="histogram"></div></section>
<section><h2>Watched images</h2><table id="images"><thead><tr><th>Image</th><th>Findings</th><th>critical</th><th>high</th><th>medium</th><th>low</th></tr></thead><tbody></tbody></table></section>
<section><h2>Registry users</h2><table id="users"><thead><tr><th>User</th><th>Pull</th><th>Push</th><th>Delete</th><th>API</th></tr></thead><tbody></tbody></table></section>
<section><h2>Snapshots</h2><table id="snapshots"><thead><tr><th>Channel</th><th>Sequence</th><th>Imported</th><th>Age</th><th>Expires</th></tr></thead><tbody></tbody></table></section>
<section><h2>Exceptions nearing expiry</h2><table id="exceptions"><thead><tr><th>#</th><th>Vulnerability</th><th>Image</th><th>By</th><th>Expires</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
"use strict";
const CSRF="__AIRHEAL_CSRF__";
function dur(s){if(s===null||s===undefined)return "\u2013";s=Number(s);if(s<120)return Math.round(s)+" s";if(s<7200)return Math.round(s/60)+" min";if(s<172800)return (s/3600).toFixed(1)+" h";return Math.round(s/86400)+" d";}
function cell(tr,text,cls){const td=document.createElement("td");td.textContent=text===undefined||text===null?"":String(text);if(cls)td.className=cls;tr.appendChild(td);return td;}
function rows(id,items,fill){const tb=document.querySelector("#"+id+" tbody");tb.replaceChildren();for(const it of items){const tr=document.createElement("tr");fill(tr,it);tb.appendChild(tr);}}
function set(id,v){document.getElementById(id).textContent=String(v);}
async function act(id,action,image){
  if(!confirm((action==="approve"?"Promote":"Roll back")+" heal "+id+" of "+image+"?"))return;
  const r=await fetch("/api/v1/heals/"+id+"/"+action,{method:"POST",headers:{"Content-Type":"application/json","X-Airheal-CSRF":CSRF},body:"{}"});
  if(!r.ok){const e=await r.json().catch(()=>({error:r.statusText}));alert(action+" failed: "+e.error);}
  refresh();
}
async function refresh(){
  let s;
  try{const r=await fetch("/api/v1/status",{cache:"no-store"});if(!r.ok)throw new Error(r.status+" "+r.statusText);s=await r.json();}
  catch(e){set("updated","cannot reach the appliance: "+e.message);return;}
  const st=s.heals_by_state,sev=s.findings_by_severity;
  set("watched",s.watched_images);
  for(const k of ["critical","high","medium","low"])set("sev-"+k,sev[k]||0);
  set("heals-pending",(st.detected||0)+(st.planned||0));
  set("heals-running",(st.building||0)+(st.verifying||0));
  set("heals-staged",st.staged||0);set("heals-promoted",st.promoted||0);set("heals-held",(st.held||0)+(st.failed||0));
  set("rollbacks",s.rollbacks);set("rollback-rate",Math.round(100*s.rollback_rate)+"%");
  set("tts-median",dur(s.time_to_stage.median_seconds));set("tts-p95",dur(s.time_to_stage.p95_seconds));
  set("tth-pub",dur(s.time_to_heal.from_publication.median_seconds));set("tth-fix",dur(s.time_to_heal.from_fix_import.median_seconds));
  rows("heals",s.heals,(tr,h)=>{cell(tr,h.id);cell(tr,h.image);cell(tr,h.state,"state-"+h.state);cell(tr,h.strategy+" ("+h.mode+")");
    const rc=cell(tr,h.reason,"small");
    if(h.failure){const f=document.createElement("span");f.className="failure";f.dataset.failure=h.failure;
      f.textContent=h.failure.replaceAll("-"," ")+" \u2014 ";rc.prepend(f);}
    cell(tr,h.updated,"small");const td=cell(tr,"");
    if(h.state==="staged"||h.state==="promoted"){const b=document.createElement("button");b.textContent=h.state==="staged"?"Approve":"Roll back";
      b.onclick=()=>act(h.id,h.state==="staged"?"approve":"rollback",h.image);td.appendChild(b);}});
  const hist=document.getElementById("histogram");hist.replaceChildren();
  const max=Math.max(1,...s.time_to_stage.histogram.map(b=>b.count));
  for(const b of s.time_to_stage.histogram){const col=document.createElement("div");col.className="barcol";
    const n=document.createElement("span");n.textContent=b.count;const bar=document.createElement("div");bar.className="bar";
    bar.style.height=(6*b.count/max)+"rem";const l=document.createElement("span");l.textContent=b.le==="+Inf"?"more":"\u2264 "+dur(b.le);
    col.append(n,bar,l);hist.appendChild(col);}
  rows("images",s.images,(tr,i)=>{cell(tr,i.image);cell(tr,i.findings);for(const k of ["critical","high","medium","low"])cell(tr,i.severity[k]||0);});
  rows("users",s.users||[],(tr,u)=>{tr.dataset.user=u.name;cell(tr,u.name);cell(tr,u.pull.join(", ")||"\u2013");cell(tr,u.push.join(", ")||"\u2013");cell(tr,u.delete.join(", ")||"\u2013");cell(tr,u.api_write?"write":"read");});
  rows("snapshots",s.snapshots,(tr,c)=>{cell(tr,c.channel);cell(tr,c.sequence);cell(tr,c.imported);cell(tr,dur(c.age_seconds));
    cell(tr,c.expires+(c.expires_in_seconds<0?" (expired)":" (in "+dur(c.expires_in_seconds)+")"),c.expires_in_seconds<7*86400?"warn":"");});
  rows("exceptions",s.exceptions.slice(0,20),(tr,e)=>{cell(tr,e.id);cell(tr,e.vulnerability);cell(tr,e.product);cell(tr,e.created_by);
    cell(tr,e.expires+" (in "+dur(e.expires_in_seconds)+")",e.expires_in_seconds<7*86400?"warn":"");});
  set("updated","updated "+s.time);
  document.body.dataset.loaded="1";
}
refresh();setInterval(refresh,3000);
</script></body></html>
)html";

}  // namespace airheal::api
